# PyTorch eager training steps on the GPU for the same models as train-step.js: torchvision's
# ResNet-50 and the MetaNet reference module of scripts/fixtures/models.py at MN-B4's
# configuration; float32, batch and size from argv. Prints one JSON object of images/s.
import json, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'scripts', 'fixtures'))
import torch, torchvision
from models import MetaNet

batch, size = int(sys.argv[1]), int(sys.argv[2])
MN_B4 = dict(stem=32, head=1280, head_dim=48, stages=[
    ("mbconv", 2, 1, 32, 1), ("mbconv", 3, 4, 64, 2), ("mbconv", 6, 6, 128, 2),
    ("mbconv", 6, 3, 192, 2), ("sa", 6, 2, 192, 1), ("sa", 12, 5, 384, 2)])
torch.backends.cudnn.benchmark = True
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
out = {}
for name, make in [("resnet50", lambda: torchvision.models.resnet50()), ("mn-b4", lambda: MetaNet(MN_B4, 1000))]:
    m = make().cuda().train()
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(batch, 3, size, size, device="cuda"); y = torch.randint(0, 1000, (batch,), device="cuda")
    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
    for _ in range(3): step()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(5): step()
    end.record(); torch.cuda.synchronize()
    out[name] = batch * 5 / (start.elapsed_time(end) / 1000)
print(json.dumps(out))

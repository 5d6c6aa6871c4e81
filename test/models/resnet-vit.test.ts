// ResNet and ViT: torchvision's / timm's parameter counts and names, output shapes, errors.
import t from 'tap'
import { randn } from '../../src'
import { ResNet } from '../../src/models/resnet'
import { VisionTransformer } from '../../src/models/vit'

t.test('ResNet counts match torchvision', async (t) => {
  t.equal(ResNet.countParameters('resnet18'), 11_689_512, 'resnet18')
  t.equal(ResNet.countParameters('resnet50'), 25_557_032, 'resnet50')
  const r18 = new ResNet('resnet18')
  t.equal(r18.numParameters(), 11_689_512, 'resnet18 as built')
  const cifar = new ResNet('resnet18', { cifar: true, numClasses: 10 })
  t.equal(cifar.numParameters(), ResNet.countParameters('resnet18', { cifar: true, numClasses: 10 }))
})

t.test("ResNet names are torchvision's", async (t) => {
  const keys = Object.keys(new ResNet('resnet50', { numClasses: 0 }).stateDict())
  t.same(keys.slice(0, 8), [
    'conv1.weight',
    'bn1.weight',
    'bn1.bias',
    'bn1.running_mean',
    'bn1.running_var',
    'bn1.num_batches_tracked',
    'layer1.0.conv1.weight',
    'layer1.0.bn1.weight',
  ])
  for (const k of [
    'layer1.0.conv3.weight',
    'layer1.0.downsample.0.weight',
    'layer1.0.downsample.1.running_mean',
    'layer4.2.bn3.bias',
  ])
    t.ok(keys.includes(k), k)
  t.notOk(
    keys.some((k) => k.startsWith('fc.')),
    'numClasses 0 has no fc',
  )
  const k18 = Object.keys(new ResNet('resnet18').stateDict())
  t.ok(
    k18.includes('layer2.0.downsample.0.weight') &&
      !k18.includes('layer1.0.downsample.0.weight') &&
      k18.includes('fc.bias'),
  )
})

t.test('ResNet shapes: ImageNet and CIFAR layouts', async (t) => {
  const r = new ResNet('resnet18', { numClasses: 7 })
  const x = randn([2, 3, 64, 64])
  t.same(
    r.forwardFeatures(x).map((f) => f.shape),
    [
      [2, 64, 16, 16],
      [2, 128, 8, 8],
      [2, 256, 4, 4],
      [2, 512, 2, 2],
    ],
  )
  t.same(r.forward(x).shape, [2, 7])
  const c = new ResNet('resnet18', { cifar: true, numClasses: 10 })
  t.same(
    c.forwardFeatures(randn([1, 3, 32, 32])).map((f) => f.shape.slice(1)),
    [
      [64, 32, 32],
      [128, 16, 16],
      [256, 8, 8],
      [512, 4, 4],
    ],
  )
  t.throws(
    () => c.forward(randn([1, 1, 32, 32])),
    /ResNet 'resnet18': expected an input \[N, 3, H, W\], got \[1, 1, 32, 32\]/,
  )
  t.throws(() => new ResNet('resnet19'), /unknown depth 'resnet19'/)
  t.same(new ResNet('resnet50', { numClasses: 0 }).featureChannels, [256, 512, 1024, 2048])
})

t.test('ResNet zeroInitResidual zeroes the last BN of every block', async (t) => {
  const r = new ResNet('resnet18', { zeroInitResidual: true, cifar: true })
  const sd = r.stateDict()
  t.ok(Array.from(sd['layer3.1.bn2.weight'].data()).every((v) => v === 0))
  t.ok(Array.from(sd['layer3.1.bn1.weight'].data()).every((v) => v === 1))
})

t.test('ViT counts match timm (patch 16, 224 px, 1000 classes)', async (t) => {
  t.equal(VisionTransformer.countParameters('vit-tiny'), 5_717_416)
  t.equal(VisionTransformer.countParameters('vit-small'), 22_050_664)
  t.equal(VisionTransformer.countParameters('vit-base'), 86_567_656)
})

t.test('ViT: names, shapes, count as built, errors', async (t) => {
  const opts = { imgSize: 32, patchSize: 8, depth: 2, numClasses: 10 }
  const v = new VisionTransformer('vit-tiny', opts)
  t.equal(v.numParameters(), VisionTransformer.countParameters('vit-tiny', opts))
  const keys = Object.keys(v.stateDict())
  for (const k of [
    'cls_token',
    'pos_embed',
    'patch_embed.proj.weight',
    'blocks.1.attn.qkv.weight',
    'blocks.1.mlp.fc2.bias',
    'norm.weight',
    'head.weight',
  ])
    t.ok(keys.includes(k), k)
  t.same(v.stateDict().pos_embed.shape, [1, 17, 192])
  const x = randn([2, 3, 32, 32])
  t.same(v.forwardFeatures(x).shape, [2, 17, 192])
  t.same(v.forward(x).shape, [2, 10])
  t.throws(
    () => v.forward(randn([2, 3, 48, 48])),
    /ViT 'vit-tiny': expected an input \[N, 3, 32, 32\].*got \[2, 3, 48, 48\]/,
  )
  t.throws(
    () => new VisionTransformer('vit-tiny', { imgSize: 30, patchSize: 8 }),
    /imgSize 30 must be a multiple of patchSize 8/,
  )
  // Gradients reach the class token and position embedding.
  v.forward(x).sum().backward()
  t.ok(v.cls_token.grad && v.pos_embed.grad, 'cls_token and pos_embed get gradients')
})

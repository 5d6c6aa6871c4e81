import t from 'tap'
import * as path from 'node:path'
import { randn, tensor, zeros } from '../../src/tensor/creation'
import { scope } from '../../src/tensor/memory'
import { manualSeed } from '../../src/tensor/random'
import { Tensor } from '../../src/tensor/tensor'
import { loadFile, saveFile } from '../../src/io/safetensors'
import { Identity, Linear, Module, ModuleList, Parameter, ReLU, Sequential } from '../../src/nn'

class Block extends Module {
  conv1: Linear
  act = new ReLU()
  conv2: Linear
  downsample: Module | null = null
  constructor(n: number) {
    super()
    this.conv1 = new Linear(n, n)
    this.conv2 = new Linear(n, n, { bias: false })
    this.registerBuffer('running_mean', zeros([n]))
    this.registerBuffer('scratch', zeros([1]), { persistent: false })
  }
  override forward(x: Tensor): Tensor {
    return this.conv2.forward(this.act.forward(this.conv1.forward(x))).add(x)
  }
}

class Net extends Module {
  stem = new Linear(3, 4)
  layer1 = new Sequential(new Block(4), new Block(4))
  heads = new ModuleList([new Linear(4, 2), new Identity()])
  scale = new Parameter(tensor([1.0]))
  notRegistered = zeros([2]) // a plain tensor attribute is not state, as in torch
  override forward(x: Tensor): Tensor {
    return this.heads
      .get(0)
      .forward(this.layer1.forward(this.stem.forward(x)))
      .mul(this.scale)
  }
}

const keysOf = (m: Module) => Object.keys(m.stateDict())

t.test('registration by assignment gives PyTorch names, in order', async (t) => {
  const net = new Net()
  t.same(keysOf(net), [
    'scale',
    'stem.weight',
    'stem.bias',
    // A module's own parameters and buffers come before its children's, as in torch.
    'layer1.0.running_mean',
    'layer1.0.conv1.weight',
    'layer1.0.conv1.bias',
    'layer1.0.conv2.weight',
    'layer1.1.running_mean',
    'layer1.1.conv1.weight',
    'layer1.1.conv1.bias',
    'layer1.1.conv2.weight',
    'heads.0.weight',
    'heads.0.bias',
  ])
  t.same(
    net.namedParameters().map(([n]) => n),
    [
      'scale',
      'stem.weight',
      'stem.bias',
      'layer1.0.conv1.weight',
      'layer1.0.conv1.bias',
      'layer1.0.conv2.weight',
      'layer1.1.conv1.weight',
      'layer1.1.conv1.bias',
      'layer1.1.conv2.weight',
      'heads.0.weight',
      'heads.0.bias',
    ],
  )
  t.same(
    net.namedBuffers().map(([n]) => n),
    ['layer1.0.running_mean', 'layer1.0.scratch', 'layer1.1.running_mean', 'layer1.1.scratch'],
  )
  t.same(
    net.namedChildren().map(([n]) => n),
    ['stem', 'layer1', 'heads'],
  )
  t.same(
    net.namedModules().map(([n]) => n),
    [
      '',
      'stem',
      'layer1',
      'layer1.0',
      'layer1.0.conv1',
      'layer1.0.act',
      'layer1.0.conv2',
      'layer1.1',
      'layer1.1.conv1',
      'layer1.1.act',
      'layer1.1.conv2',
      'heads',
      'heads.0',
      'heads.1',
    ],
  )
  t.equal(net.numParameters(), 1 + 16 + 2 * (20 + 16) + 10)
  t.equal(net.layer1[1], net.layer1.get(1), 'index access like Python')
  t.equal(net.heads.get(-1).constructor.name, 'Identity')
  t.equal(net.forward(randn([5, 3])).shape.join(), '5,2')
  t.equal(net.call(randn([5, 3])).shape.join(), '5,2')
})

t.test('assignments after registration are checked, and late ones are found', async (t) => {
  const net = new Net()
  net.parameters() // registers every property
  t.throws(() => {
    ;(net.stem as unknown as { weight: Tensor }).weight = zeros([4, 3])
  }, /Linear: cannot assign a Tensor of shape \[4, 3\] to parameter 'weight' \(expected a Parameter or null\)/)
  t.throws(() => {
    ;(net as unknown as { layer1: number }).layer1 = 3
  }, /Net: cannot assign a number to module 'layer1'/)
  const b = net.layer1.get(0) as Block
  t.throws(
    () => b.registerBuffer('conv1', zeros([1])),
    /Block.registerBuffer: attribute 'conv1' already exists as a module/,
  )
  t.throws(() => b.registerParameter('a.b', null), /name must be a non-empty string without '\.'/)
  // A buffer replaced inside a scope survives it (buffers are kept like parameters).
  scope(() => {
    ;(b as unknown as { running_mean: Tensor }).running_mean = tensor([1, 2, 3, 4])
  })
  t.same(Array.from((b as unknown as { running_mean: Tensor }).running_mean.data()), [1, 2, 3, 4])
  // Setting to null drops it from the state dict; a new child added later is registered.
  net.stem.bias = null
  b.downsample = new Linear(4, 4)
  const keys = keysOf(net)
  t.notOk(keys.includes('stem.bias'))
  t.ok(keys.includes('layer1.0.downsample.weight'))
  net.heads.insert(0, new Linear(4, 4))
  t.same(
    net.heads.namedChildren().map(([n, m]) => `${n}:${m.constructor.name}`),
    ['0:Linear', '1:Linear', '2:Identity'],
  )
})

t.test('shared modules and parameters are listed once; state dicts keep both names', async (t) => {
  class Tied extends Module {
    a = new Linear(2, 2)
    b: Linear
    constructor() {
      super()
      this.b = this.a
    }
  }
  const m = new Tied()
  t.equal(m.parameters().length, 2)
  t.same(keysOf(m), ['a.weight', 'a.bias', 'b.weight', 'b.bias'])
  const loop = new Sequential(new Identity())
  loop.append(loop)
  t.throws(() => loop.stateDict(), /stateDict: module '1' \(Sequential\) contains itself/)
})

t.test('stateDict views share memory; loadStateDict copies in place', async (t) => {
  manualSeed(1)
  const a = new Net()
  const b = new Net()
  const w = b.stem.weight
  const res = b.loadStateDict(a.stateDict())
  t.same(res, { missingKeys: [], unexpectedKeys: [] })
  t.equal(b.stem.weight, w, 'the same Parameter object')
  t.same(Array.from(b.stem.weight.data()), Array.from(a.stem.weight.data()))
  const sd = a.stateDict()
  sd['stem.bias'].fill_(7)
  t.same(Array.from(a.stem.bias!.data()), [7, 7, 7, 7], 'the state dict shares the model memory')
})

t.test('state dict round trip through safetensors', async (t) => {
  manualSeed(2)
  const a = new Net()
  const file = path.join(t.testdir({}), 'net.safetensors')
  saveFile(file, a.stateDict())
  manualSeed(3)
  const b = new Net()
  t.not(b.stem.weight.data()[0], a.stem.weight.data()[0])
  b.loadStateDict(loadFile(file))
  const x = randn([2, 3])
  t.same(Array.from(b.forward(x).data()), Array.from(a.forward(x).data()))
})

t.test('loadStateDict lists every problem; strict false tolerates key mismatches only', async (t) => {
  const net = new Net()
  const sd = net.stateDict()
  delete sd['stem.bias']
  delete sd['heads.0.weight']
  sd['extra.weight'] = zeros([1])
  sd['stem.weight'] = zeros([4, 5])
  const before = Array.from(net.scale.data())
  sd.scale = tensor([42])
  const err = (() => {
    try {
      net.loadStateDict(sd)
    } catch (e) {
      return (e as Error).message
    }
    return ''
  })()
  t.match(err, /^loadStateDict: error\(s\) loading a state dict into Net:/)
  t.match(err, /missing keys \(2\): stem\.bias, heads\.0\.weight/)
  t.match(err, /unexpected keys \(1\): extra\.weight/)
  t.match(err, /shape mismatch for stem\.weight: the state dict has \[4, 5\], the model has \[4, 3\]/)
  t.same(Array.from(net.scale.data()), before, 'nothing was copied')
  t.throws(
    () => net.loadStateDict(sd, { strict: false }),
    /shape mismatch for stem\.weight/,
    'shape mismatches always fail',
  )
  sd['stem.weight'] = zeros([4, 3])
  const res = net.loadStateDict(sd, { strict: false })
  t.same(res, { missingKeys: ['stem.bias', 'heads.0.weight'], unexpectedKeys: ['extra.weight'] })
  t.same(Array.from(net.scale.data()), [42])
  // dtype is cast, as torch's copy_ does.
  const lin = new Linear(2, 1)
  lin.loadStateDict({ weight: tensor([[1, 2]], { dtype: 'float64' }), bias: tensor([3], { dtype: 'float64' }) })
  t.equal(lin.weight.dtype, 'float32')
  t.same(Array.from(lin.weight.data()), [1, 2])
})

t.test('freezing, zeroGrad, train/eval and apply', async (t) => {
  const net = new Net()
  net.stem.requiresGrad_(false)
  t.equal(net.numParameters(true), net.numParameters() - 16)
  const y = net.forward(randn([3, 3])).sum()
  y.backward()
  t.equal(net.stem.weight.grad, null, 'a frozen layer gets no gradient')
  t.ok(net.heads.get(0).parameters()[0].grad, 'the rest does')
  net.zeroGrad(false)
  t.same(Array.from(net.scale.grad!.data()), [0], 'zeroed in place')
  net.zeroGrad()
  t.equal(net.scale.grad, null, 'set to null')
  t.ok(net.training && net.layer1.get(0).training)
  net.eval()
  t.ok(net.modules().every((m) => !m.training))
  net.train()
  t.ok(net.modules().every((m) => m.training))
  const seen: string[] = []
  net.layer1.apply((m) => seen.push(m.constructor.name))
  t.same(
    seen,
    ['Linear', 'ReLU', 'Linear', 'Block', 'Linear', 'ReLU', 'Linear', 'Block', 'Sequential'],
    'children first',
  )
})

t.test('to(dtype) converts floating state and keeps Parameter identity', async (t) => {
  const net = new Net()
  const p = net.stem.weight
  const before = Array.from(p.data())
  net.double()
  t.equal(net.stem.weight, p)
  t.equal(p.dtype, 'float64')
  t.equal(p.requiresGrad, true)
  t.same(Array.from(p.data()).map(Math.fround), before)
  t.equal((net.layer1.get(0) as unknown as { running_mean: Tensor }).running_mean.dtype, 'float64')
  t.equal(net.forward(randn([1, 3], { dtype: 'float64' })).dtype, 'float64')
})

t.test('parameters survive scopes; toString prints the tree', async (t) => {
  const kept = (() => {
    let m: Net | null = null
    scope(() => {
      m = new Net()
    })
    return m as unknown as Net
  })()
  t.equal(kept.forward(randn([1, 3])).shape.join(), '1,2', 'weights made inside a scope are still alive')
  t.match(
    kept.toString(),
    /^Net\(\n {2}\(stem\): Linear\(inFeatures=3, outFeatures=4, bias=true\)\n {2}\(layer1\): Sequential\(\n {4}\(0\): Block\(/,
  )
})

// Vision Transformer (ViT-Ti/S/B) with timm's parameter names (patch_embed.proj, cls_token,
// pos_embed, blocks.0.attn.qkv, norm, head), so timm state dicts load unchanged: a p x p
// patch embedding, a class token, learned position embeddings, pre-norm blocks.
import { shapeStr } from '../tensor/shape'
import type { Tensor } from '../tensor/tensor'
import { Conv2d, Identity, LayerNorm, Linear, Module, ModuleList, init, newParameter, type Parameter } from '../nn'
import { cat } from '../ops'
import { Block } from './layers/block'
import { convParams, linearParams, normParams } from './layers/count'

export interface ViTConfig {
  embedDim: number
  depth: number
  numHeads: number
  mlpRatio: number
}

export const VIT_CONFIGS: Record<string, ViTConfig> = {
  'vit-tiny': { embedDim: 192, depth: 12, numHeads: 3, mlpRatio: 4 },
  'vit-small': { embedDim: 384, depth: 12, numHeads: 6, mlpRatio: 4 },
  'vit-base': { embedDim: 768, depth: 12, numHeads: 12, mlpRatio: 4 },
}

export interface ViTOptions extends Partial<ViTConfig> {
  imgSize?: number
  patchSize?: number
  inChannels?: number
  /** 0 leaves out the head: forward returns the class-token feature. */
  numClasses?: number
  dropPathRate?: number
}

function resolve(name: string, opts: ViTOptions) {
  const base = VIT_CONFIGS[name]
  if (!base) throw new Error(`ViT: unknown model '${name}'; known: ${Object.keys(VIT_CONFIGS).join(', ')}`)
  const c = { ...base, imgSize: 224, patchSize: 16, inChannels: 3, numClasses: 1000, dropPathRate: 0, ...opts }
  if (c.imgSize % c.patchSize)
    throw new Error(`ViT '${name}': imgSize ${c.imgSize} must be a multiple of patchSize ${c.patchSize}`)
  return { ...c, numPatches: (c.imgSize / c.patchSize) ** 2 }
}

/** Non-overlapping p x p patches to tokens [N, L, D] by a stride-p conv. */
export class PatchEmbed extends Module {
  proj: Conv2d
  constructor(
    inChannels: number,
    embedDim: number,
    readonly patchSize: number,
  ) {
    super()
    this.proj = new Conv2d(inChannels, embedDim, patchSize, { stride: patchSize })
  }
  override forward(x: Tensor): Tensor {
    return this.proj.forward(x).flatten(2).transpose(1, 2)
  }
}

export class VisionTransformer extends Module {
  readonly name: string
  readonly imgSize: number
  readonly inChannels: number
  readonly embedDim: number
  patch_embed: PatchEmbed
  cls_token: Parameter
  pos_embed: Parameter
  blocks: ModuleList<Block>
  norm: LayerNorm
  head: Module

  /** name: 'vit-tiny', 'vit-small' or 'vit-base'; options override the size and head. */
  constructor(name: string, opts: ViTOptions = {}) {
    super()
    const c = resolve(name, opts)
    this.name = name
    this.imgSize = c.imgSize
    this.inChannels = c.inChannels
    this.embedDim = c.embedDim
    this.patch_embed = new PatchEmbed(c.inChannels, c.embedDim, c.patchSize)
    this.cls_token = init.normal_(newParameter([1, 1, c.embedDim]), 0, 1e-6)
    this.pos_embed = init.truncNormal_(newParameter([1, c.numPatches + 1, c.embedDim]), 0, 0.02, -0.04, 0.04)
    const dpr = (i: number) => (c.depth > 1 ? (c.dropPathRate * i) / (c.depth - 1) : 0)
    this.blocks = new ModuleList(
      Array.from(
        { length: c.depth },
        (_, i) => new Block(c.embedDim, c.numHeads, { mlpRatio: c.mlpRatio, dropPath: dpr(i) }),
      ),
    )
    this.norm = new LayerNorm(c.embedDim, { eps: 1e-6 })
    this.head = c.numClasses > 0 ? new Linear(c.embedDim, c.numClasses) : new Identity()
    // timm's init: truncated normal (std 0.02) Linear weights, zero biases.
    this.apply((m) => {
      if (!(m instanceof Linear)) return
      init.truncNormal_(m.weight, 0, 0.02, -0.04, 0.04)
      if (m.bias) init.zeros_(m.bias)
    })
  }

  static countParameters(name: string, opts: ViTOptions = {}): number {
    const c = resolve(name, opts)
    const D = c.embedDim
    return (
      convParams(c.inChannels, D, c.patchSize) +
      D +
      (c.numPatches + 1) * D +
      c.depth * Block.countParameters(D, c.mlpRatio) +
      normParams(D) +
      (c.numClasses > 0 ? linearParams(D, c.numClasses) : 0)
    )
  }

  /** All tokens after the final norm, [N, 1 + patches, D] (the class token first). */
  forwardFeatures(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.inChannels || x.shape[2] !== this.imgSize || x.shape[3] !== this.imgSize)
      throw new Error(
        `ViT '${this.name}': expected an input [N, ${this.inChannels}, ${this.imgSize}, ${this.imgSize}] (learned position embeddings fix the size), got ${shapeStr(x.shape)}`,
      )
    const patches = this.patch_embed.forward(x)
    const [N, , D] = patches.shape
    let t = cat([this.cls_token.expand([N, 1, D]), patches], 1).add(this.pos_embed)
    for (const b of this.blocks) t = b.forward(t)
    return this.norm.forward(t)
  }

  /** Logits from the class token (its feature when numClasses is 0). */
  override forward(x: Tensor): Tensor {
    return this.head.forward(this.forwardFeatures(x).select(1, 0)) as Tensor
  }
}

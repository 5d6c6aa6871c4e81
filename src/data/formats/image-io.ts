// Image decoding and encoding through sharp (libvips): PNG, JPEG, WebP, 16-bit PNG. sharp is
// loaded lazily so that the rest of the data system (the world, IDX files) works without it.

import type { ImageCHW } from '../types'

type SharpModule = typeof import('sharp')
let sharpModule: SharpModule | undefined

export function loadSharp(fn: string): SharpModule {
  if (sharpModule) return sharpModule
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    sharpModule = require('sharp') as SharpModule
  } catch (err) {
    throw new Error(
      `${fn}: decoding and encoding images needs the npm package 'sharp' (npm install sharp): ${(err as Error).message}`,
    )
  }
  return sharpModule
}

export interface DecodeOptions {
  /** 1 for greyscale, 3 for RGB (alpha dropped). Default 3. */
  channels?: 1 | 3
  /** Resize to [height, width] while decoding (bilinear; aspect not kept). */
  size?: [number, number]
}

/** Decodes PNG/JPEG/WebP (a path or the file's bytes) to CHW float32 in [0, 1]. */
export async function decodeImage(input: string | Uint8Array, options: DecodeOptions = {}): Promise<ImageCHW> {
  const sharp = loadSharp('decodeImage')
  const channels = options.channels ?? 3
  let pipeline = sharp(input).rotate()
  if (options.size) pipeline = pipeline.resize(options.size[1], options.size[0], { fit: 'fill', kernel: 'linear' })
  pipeline = channels === 1 ? pipeline.greyscale().extractChannel(0) : pipeline.removeAlpha().toColourspace('srgb')
  let raw: { data: Buffer; info: { width: number; height: number; channels: number } }
  try {
    raw = await pipeline.raw().toBuffer({ resolveWithObject: true })
  } catch (err) {
    const what = typeof input === 'string' ? input : `${input.length} bytes`
    throw new Error(`decodeImage: cannot decode ${what}: ${(err as Error).message}`)
  }
  return hwcToChw(raw.data, raw.info.height, raw.info.width, raw.info.channels, channels)
}

function hwcToChw(src: Uint8Array, H: number, W: number, srcChannels: number, channels: number): ImageCHW {
  const plane = H * W
  const data = new Float32Array(channels * plane)
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++) data[c * plane + p] = src[p * srcChannels + Math.min(c, srcChannels - 1)] / 255
  }
  return { data, channels, height: H, width: W }
}

/** Decodes a single-channel PNG of 8 or 16 bits to its integer values (no scaling). */
export async function decodeGreyValues(
  input: string | Uint8Array,
  fn = 'decodeGreyValues',
): Promise<{ values: Uint16Array | Uint8Array; height: number; width: number; bits: 8 | 16 }> {
  const sharp = loadSharp(fn)
  try {
    const meta = await sharp(input).metadata()
    const sixteen = meta.depth === 'ushort'
    const pipeline = sharp(input).extractChannel(0)
    const raw = sixteen
      ? await pipeline.toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true })
      : await pipeline.toColourspace('b-w').raw().toBuffer({ resolveWithObject: true })
    const { width, height } = raw.info
    const values = sixteen
      ? new Uint16Array(raw.data.buffer.slice(raw.data.byteOffset, raw.data.byteOffset + raw.data.byteLength))
      : new Uint8Array(raw.data)
    return { values, height, width, bits: sixteen ? 16 : 8 }
  } catch (err) {
    const what = typeof input === 'string' ? input : `${input.length} bytes`
    throw new Error(`${fn}: cannot decode ${what}: ${(err as Error).message}`)
  }
}

/** Decodes an RGB(A) image to its 8-bit HWC values (for colour-coded masks). */
export async function decodeRgbValues(
  input: string | Uint8Array,
  fn = 'decodeRgbValues',
): Promise<{ values: Uint8Array; height: number; width: number }> {
  const sharp = loadSharp(fn)
  try {
    const raw = await sharp(input).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true })
    return { values: new Uint8Array(raw.data), height: raw.info.height, width: raw.info.width }
  } catch (err) {
    const what = typeof input === 'string' ? input : `${input.length} bytes`
    throw new Error(`${fn}: cannot decode ${what}: ${(err as Error).message}`)
  }
}

function toHwcBytes(image: ImageCHW): Uint8Array {
  const { data, channels: C, height: H, width: W } = image
  const plane = H * W
  const out = new Uint8Array(plane * C)
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < C; c++) out[p * C + c] = Math.round(Math.min(1, Math.max(0, data[c * plane + p])) * 255)
  }
  return out
}

/** Encodes a CHW image in [0, 1] (1 or 3 channels) as PNG, to `path` or to bytes. */
export async function encodePng(image: ImageCHW, path?: string): Promise<Uint8Array> {
  const sharp = loadSharp('encodePng')
  if (image.channels !== 1 && image.channels !== 3) {
    throw new RangeError(`encodePng: image must have 1 or 3 channels, got ${image.channels}`)
  }
  const s = sharp(toHwcBytes(image), {
    raw: { width: image.width, height: image.height, channels: image.channels },
  }).png()
  if (path) {
    await s.toFile(path)
    return new Uint8Array(0)
  }
  return new Uint8Array(await s.toBuffer())
}

export async function encodeJpeg(image: ImageCHW, path: string, quality = 90): Promise<void> {
  const sharp = loadSharp('encodeJpeg')
  await sharp(toHwcBytes(image), {
    raw: { width: image.width, height: image.height, channels: image.channels as 1 | 3 },
  })
    .jpeg({ quality })
    .toFile(path)
}

/** Writes integer values (H*W) as an 8- or 16-bit greyscale PNG: class maps, depth in sensor units. */
export async function encodeGreyPng(
  values: Uint8Array | Uint16Array,
  height: number,
  width: number,
  path: string,
): Promise<void> {
  const sharp = loadSharp('encodeGreyPng')
  if (values.length !== height * width) {
    throw new RangeError(`encodeGreyPng: ${values.length} values for a ${height}x${width} image`)
  }
  let s = sharp(values, { raw: { width, height, channels: 1 } })
  if (values instanceof Uint16Array) s = s.toColourspace('grey16')
  await s.png().toFile(path)
}

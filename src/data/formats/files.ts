// Formats that users bring: ImageFolder (a folder per class), COCO-style JSON detection, PNG
// class masks for segmentation, 16-bit PNG depth. Indexing is synchronous (directory listings,
// one JSON file) so datasets build in the constructor and carry recipes; pixels decode lazily
// and asynchronously through sharp.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { basename, extname, isAbsolute, join, resolve, sep } from 'node:path'
import { LabelSpace, Taxonomy } from '../labels'
import { checkIndex, type Annotation, type Dataset, type DatasetCard, type Sample, type Task } from '../types'
import { decodeGreyValues, decodeImage, decodeRgbValues } from './image-io'
import { rasterisePolygon } from './polygon'

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp']

function isImage(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(name).toLowerCase())
}

function requireDir(fn: string, what: string, dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${fn}: ${what} '${dir}' is not a directory`)
}

function userCard(name: string, tasks: Task[], size: number, root: string): DatasetCard {
  return {
    name,
    description: `User data read from ${root}.`,
    tasks,
    sizes: {},
    license: 'unknown (user data)',
    provenance: `Read from ${root}; ${size} images.`,
  }
}

export interface ImageFolderOptions {
  name?: string
  split?: string
  channels?: 1 | 3
  /** Resize every image to [height, width] while decoding. */
  size?: [number, number]
}

/** root/<class>/<image>: classes are the sorted sub-folder names, images sorted by name. */
export function imageFolder(root: string, options: ImageFolderOptions = {}): Dataset<Sample> {
  const fn = 'imageFolder'
  requireDir(fn, 'root', root)
  const classes = readdirSync(root)
    .filter((d) => statSync(join(root, d)).isDirectory())
    .sort()
  if (classes.length === 0) throw new Error(`${fn}: '${root}' has no class sub-folders (expected root/<class>/<image>)`)
  const files: string[] = []
  const labels: number[] = []
  classes.forEach((c, ci) => {
    for (const f of readdirSync(join(root, c)).filter(isImage).sort()) {
      files.push(join(root, c, f))
      labels.push(ci)
    }
  })
  if (files.length === 0) throw new Error(`${fn}: no ${IMAGE_EXTENSIONS.join('/')} images under '${root}'`)
  const name = options.name ?? basename(root)
  const annotation = (i: number): Annotation => {
    checkIndex(fn, i, files.length)
    return { index: i, labels: { class: labels[i] } }
  }
  return {
    length: files.length,
    info: {
      name,
      split: options.split ?? 'train',
      tasks: ['classification'],
      labelSpaces: { class: new LabelSpace('class', classes) },
      card: userCard(name, ['classification'], files.length, root),
    },
    recipe: { module: __filename, exportName: 'imageFolder', args: [root, options] },
    annotation,
    async get(i: number): Promise<Sample> {
      const a = annotation(i)
      return { ...a, image: await decodeImage(files[i], { channels: options.channels, size: options.size }) }
    },
  }
}

interface CocoFile {
  images: { id: number; file_name: string; width?: number; height?: number }[]
  annotations: {
    image_id: number
    bbox: [number, number, number, number]
    category_id: number
    iscrowd?: number
    ignore?: number
    visibility?: number
    segmentation?: number[][] | unknown
  }[]
  categories: { id: number; name: string; supercategory?: string }[]
}

export interface CocoOptions {
  name?: string
  split?: string
  channels?: 1 | 3
  /** Rasterise polygon segmentations into instance masks. Default false. */
  masks?: boolean
}

/**
 * COCO-style detection: bbox [x, y, w, h] becomes pixel xyxy; iscrowd (or ignore) sets the
 * ignore flag; an optional per-annotation `visibility` in [0, 1] (CityPersons style) is kept,
 * else 1. Category ids map to contiguous labels in id order; supercategories become parents.
 */
export function cocoDetection(annotationFile: string, imageDir: string, options: CocoOptions = {}): Dataset<Sample> {
  const fn = 'cocoDetection'
  requireDir(fn, 'imageDir', imageDir)
  let coco: CocoFile
  try {
    coco = JSON.parse(readFileSync(annotationFile, 'utf8')) as CocoFile
  } catch (err) {
    throw new Error(`${fn}: cannot read annotation file '${annotationFile}': ${(err as Error).message}`)
  }
  const bad = (problem: string): never => {
    throw new Error(`${fn}: '${annotationFile}': ${problem}`)
  }
  if (coco === null || typeof coco !== 'object') bad('not a COCO annotation object')
  for (const key of ['images', 'annotations', 'categories'] as const) {
    if (!Array.isArray(coco[key])) bad(`no '${key}' array`)
  }
  coco.categories.forEach((c, k) => {
    if (c === null || typeof c !== 'object' || !Number.isFinite(c.id) || typeof c.name !== 'string')
      bad(`categories[${k}] needs a numeric id and a name, got ${JSON.stringify(c)}`)
    if (c.supercategory !== undefined && typeof c.supercategory !== 'string')
      bad(`categories[${k}].supercategory must be a string`)
  })
  const root = resolve(imageDir)
  coco.images.forEach((im, k) => {
    if (im === null || typeof im !== 'object' || !Number.isFinite(im.id) || typeof im.file_name !== 'string')
      bad(`images[${k}] needs a numeric id and a file_name, got ${JSON.stringify(im)}`)
    // An annotation file is data: it may not point outside the image folder.
    const file = resolve(root, im.file_name)
    if (isAbsolute(im.file_name) || !file.startsWith(root + sep))
      bad(`images[${k}].file_name '${im.file_name}' leaves the image folder '${imageDir}'`)
  })
  const cats = [...coco.categories].sort((a, b) => a.id - b.id)
  const catIndex = new Map(cats.map((c, i) => [c.id, i]))
  if (catIndex.size !== cats.length) bad('two categories share an id')
  if (new Set(coco.images.map((im) => im.id)).size !== coco.images.length) bad('two images share an id')
  const taxonomy = new Taxonomy(options.name ?? basename(annotationFile))
  const classSpace = ((): LabelSpace => {
    try {
      for (const c of cats) {
        if (c.supercategory && c.supercategory !== c.name && !taxonomy.find(c.supercategory))
          taxonomy.add(c.supercategory)
        taxonomy.add(c.name, c.supercategory && c.supercategory !== c.name ? { parent: c.supercategory } : {})
      }
      return taxonomy.labelSpace(
        'class',
        cats.map((c) => c.name),
      )
    } catch (e) {
      return bad(`its categories do not form a taxonomy (${(e as Error).message})`)
    }
  })()
  const images = [...coco.images].sort((a, b) => a.id - b.id)
  const byImage = new Map<number, CocoFile['annotations']>(images.map((im) => [im.id, []]))
  coco.annotations.forEach((a, k) => {
    if (a === null || typeof a !== 'object') bad(`annotations[${k}] is not an object`)
    const list = byImage.get(a.image_id)
    if (!list) bad(`annotations[${k}] refers to image_id ${a.image_id}, which is not in images`)
    if (!catIndex.has(a.category_id)) bad(`annotations[${k}] has unknown category_id ${a.category_id}`)
    if (
      !Array.isArray(a.bbox) ||
      a.bbox.length !== 4 ||
      a.bbox.some((v) => !Number.isFinite(v)) ||
      a.bbox[2] < 0 ||
      a.bbox[3] < 0
    ) {
      bad(`annotations[${k}].bbox must be [x, y, w, h] with w, h >= 0, got ${JSON.stringify(a.bbox)}`)
    }
    list!.push(a)
  })
  const name = options.name ?? basename(annotationFile, '.json')
  const annotation = (i: number): Annotation => {
    checkIndex(fn, i, images.length)
    const anns = byImage.get(images[i].id)!
    const boxes = new Float32Array(4 * anns.length)
    anns.forEach((a, k) => boxes.set([a.bbox[0], a.bbox[1], a.bbox[0] + a.bbox[2], a.bbox[1] + a.bbox[3]], 4 * k))
    return {
      index: i,
      objects: {
        boxes,
        labels: Int32Array.from(anns, (a) => catIndex.get(a.category_id)!),
        visibility: Float32Array.from(anns, (a) => a.visibility ?? 1),
        ignore: Uint8Array.from(anns, (a) => (a.iscrowd || a.ignore ? 1 : 0)),
      },
    }
  }
  return {
    length: images.length,
    info: {
      name,
      split: options.split ?? 'train',
      tasks: ['detection'],
      labelSpaces: { class: classSpace },
      objectLabelSpace: 'class',
      taxonomy,
      card: userCard(name, ['detection'], images.length, annotationFile),
    },
    recipe: { module: __filename, exportName: 'cocoDetection', args: [annotationFile, imageDir, options] },
    annotation,
    async get(i: number): Promise<Sample> {
      const a = annotation(i)
      const image = await decodeImage(join(imageDir, images[i].file_name), { channels: options.channels })
      const { width: W, height: H } = image
      if (images[i].width !== undefined && (images[i].width !== W || images[i].height !== H)) {
        throw new Error(
          `${fn}: ${images[i].file_name} is ${W}x${H} but '${annotationFile}' says ${images[i].width}x${images[i].height}`,
        )
      }
      if (options.masks) {
        const anns = byImage.get(images[i].id)!
        const masks = new Uint8Array(anns.length * H * W)
        anns.forEach((ann, k) => {
          if (!Array.isArray(ann.segmentation)) return
          for (const poly of ann.segmentation as number[][])
            rasterisePolygon(poly, masks.subarray(k * H * W, (k + 1) * H * W), H, W)
        })
        a.objects!.masks = masks
      }
      return { ...a, image }
    },
  }
}

/** Pairs images and same-named label files (any image extension) in two folders. */
function pairFiles(fn: string, imageDir: string, labelDir: string): [string, string][] {
  requireDir(fn, 'imageDir', imageDir)
  requireDir(fn, 'labelDir', labelDir)
  const labels = new Map(
    readdirSync(labelDir)
      .filter(isImage)
      .map((f) => [basename(f, extname(f)), f]),
  )
  const pairs = readdirSync(imageDir)
    .filter(isImage)
    .sort()
    .map((f): [string, string] => {
      const stem = basename(f, extname(f))
      const l = labels.get(stem)
      if (!l) throw new Error(`${fn}: image '${f}' has no label file '${stem}.png' in '${labelDir}'`)
      return [join(imageDir, f), join(labelDir, l)]
    })
  if (pairs.length === 0) throw new Error(`${fn}: no images in '${imageDir}'`)
  return pairs
}

export interface SegmentationFolderOptions {
  classes: string[]
  name?: string
  split?: string
  channels?: 1 | 3
  /** For colour-coded masks: class index per RGB colour ('r,g,b' keys). Unlisted colours -> 255. */
  palette?: Record<string, number>
}

/**
 * Images with PNG class masks of the same name. Greyscale masks hold class indices directly
 * (255 = ignore); colour masks (e.g. VOC's rendered palette) need `palette`.
 */
export function segmentationFolder(
  imageDir: string,
  maskDir: string,
  options: SegmentationFolderOptions,
): Dataset<Sample> {
  const fn = 'segmentationFolder'
  if (!options || !Array.isArray(options.classes) || options.classes.length === 0 || options.classes.length > 255) {
    throw new RangeError(`${fn}: options.classes must list 1 to 255 class names`)
  }
  const pairs = pairFiles(fn, imageDir, maskDir)
  const name = options.name ?? basename(imageDir)
  const K = options.classes.length
  return {
    length: pairs.length,
    info: {
      name,
      split: options.split ?? 'train',
      tasks: ['segmentation'],
      labelSpaces: { segmentation: new LabelSpace('segmentation', options.classes) },
      segmentationLabelSpace: 'segmentation',
      card: userCard(name, ['segmentation'], pairs.length, imageDir),
    },
    recipe: { module: __filename, exportName: 'segmentationFolder', args: [imageDir, maskDir, options] },
    async get(i: number): Promise<Sample> {
      checkIndex(fn, i, pairs.length)
      const [imagePath, maskPath] = pairs[i]
      const image = await decodeImage(imagePath, { channels: options.channels })
      let segmentation: Uint8Array
      let mh: number
      let mw: number
      if (options.palette) {
        const { values, height, width } = await decodeRgbValues(maskPath, fn)
        ;[mh, mw] = [height, width]
        segmentation = new Uint8Array(height * width)
        for (let p = 0; p < segmentation.length; p++) {
          segmentation[p] = options.palette[`${values[3 * p]},${values[3 * p + 1]},${values[3 * p + 2]}`] ?? 255
        }
      } else {
        const g = await decodeGreyValues(maskPath, fn)
        if (g.bits !== 8) throw new Error(`${fn}: mask '${maskPath}' is ${g.bits}-bit; class masks must be 8-bit`)
        ;[mh, mw, segmentation] = [g.height, g.width, g.values as Uint8Array]
      }
      if (mh !== image.height || mw !== image.width) {
        throw new Error(`${fn}: mask '${maskPath}' is ${mw}x${mh} but its image is ${image.width}x${image.height}`)
      }
      for (let p = 0; p < segmentation.length; p++) {
        const c = segmentation[p]
        if (c >= K && c !== 255) {
          throw new RangeError(
            `${fn}: mask '${maskPath}' has value ${c} at pixel ${p}, but there are only ${K} classes (255 = ignore)`,
          )
        }
      }
      return { index: i, image, segmentation }
    },
  }
}

export interface DepthFolderOptions {
  /** Metres per PNG unit: KITTI 1/256 (the default), NYUv2 exports often 1/1000. */
  scale?: number
  name?: string
  split?: string
  channels?: 1 | 3
}

/** Images with 16-bit PNG depth of the same name; 0 means "not measured" (KITTI convention). */
export function depthFolder(imageDir: string, depthDir: string, options: DepthFolderOptions = {}): Dataset<Sample> {
  const fn = 'depthFolder'
  const scale = options.scale ?? 1 / 256
  if (!(scale > 0)) throw new RangeError(`${fn}: scale must be positive, got ${scale}`)
  const pairs = pairFiles(fn, imageDir, depthDir)
  const name = options.name ?? basename(imageDir)
  return {
    length: pairs.length,
    info: {
      name,
      split: options.split ?? 'train',
      tasks: ['depth'],
      labelSpaces: {},
      card: userCard(name, ['depth'], pairs.length, imageDir),
    },
    recipe: { module: __filename, exportName: 'depthFolder', args: [imageDir, depthDir, options] },
    async get(i: number): Promise<Sample> {
      checkIndex(fn, i, pairs.length)
      const [imagePath, depthPath] = pairs[i]
      const image = await decodeImage(imagePath, { channels: options.channels })
      const g = await decodeGreyValues(depthPath, fn)
      if (g.bits !== 16) throw new Error(`${fn}: depth '${depthPath}' is ${g.bits}-bit; expected a 16-bit PNG`)
      if (g.height !== image.height || g.width !== image.width) {
        throw new Error(
          `${fn}: depth '${depthPath}' is ${g.width}x${g.height} but its image is ${image.width}x${image.height}`,
        )
      }
      const depth = new Float32Array(g.values.length)
      const depthValid = new Uint8Array(g.values.length)
      for (let p = 0; p < depth.length; p++) {
        depth[p] = g.values[p] * scale
        depthValid[p] = g.values[p] > 0 ? 1 : 0
      }
      return { index: i, image, depth, depthValid }
    },
  }
}

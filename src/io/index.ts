export { saveFile, loadFile, load, readFile, serialize, deserialize } from './safetensors'
export type { Metadata, SafetensorsContents } from './safetensors'
export { saveCheckpoint, loadCheckpoint } from './checkpoint'
export type { Checkpoint, TreeValue } from './checkpoint'

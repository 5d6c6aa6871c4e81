// One protocol run by name: 'linear' is the frozen-backbone protocol (a linear probe for
// classification, a head on frozen features for detection, segmentation and depth), 'finetune'
// trains backbone and head end to end.
import type { Backbone } from '../../models/zoo'
import type { ResultRow } from '../results'
import type { BenchmarkTask } from '../tasks'
import type { RunContext } from './common'
import { denseProbe, type DenseProbeOptions } from './dense-probe'
import { finetune, type FinetuneOptions } from './finetune'
import { linearProbe, type LinearProbeOptions } from './linear-probe'

export type ProtocolName = 'linear' | 'finetune'
export const PROTOCOLS: readonly ProtocolName[] = ['linear', 'finetune']

export interface ProtocolOptions {
  linear?: LinearProbeOptions
  dense?: DenseProbeOptions
  finetune?: FinetuneOptions
}

export async function runProtocol(
  protocol: ProtocolName,
  backbone: Backbone,
  task: BenchmarkTask,
  ctx: RunContext,
  options: ProtocolOptions = {},
): Promise<ResultRow> {
  if (protocol === 'linear') {
    return task.type === 'classification'
      ? linearProbe(backbone, task, ctx, options.linear)
      : denseProbe(backbone, task, ctx, options.dense)
  }
  if (protocol === 'finetune') return finetune(backbone, task, ctx, options.finetune)
  throw new Error(`runProtocol: unknown protocol '${String(protocol)}'; known: ${PROTOCOLS.join(', ')}`)
}

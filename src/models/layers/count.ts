// Parameter arithmetic for counting a model from its configuration, without allocating it.

export const convParams = (
  cin: number,
  cout: number,
  k: number,
  opts: { groups?: number; bias?: boolean } = {},
): number => (cin / (opts.groups ?? 1)) * cout * k * k + ((opts.bias ?? true) ? cout : 0)

export const linearParams = (fin: number, fout: number, bias = true): number => fin * fout + (bias ? fout : 0)

/** BatchNorm and LayerNorm: weight and bias. */
export const normParams = (c: number): number => 2 * c

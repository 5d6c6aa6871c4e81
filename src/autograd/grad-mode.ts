let enabled = true

export function isGradEnabled(): boolean {
  return enabled
}

/** Runs fn with gradient recording off (torch.no_grad). */
export function noGrad<T>(fn: () => T): T {
  const prev = enabled
  enabled = false
  try {
    return fn()
  } finally {
    enabled = prev
  }
}

/** Runs fn with gradient recording on, e.g. inside noGrad (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  const prev = enabled
  enabled = true
  try {
    return fn()
  } finally {
    enabled = prev
  }
}

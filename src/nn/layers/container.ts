// Containers: Sequential (chains its modules) and ModuleList (holds them). Children are
// registered as '0', '1', ... so names follow torch's (`features.0.weight`), and
// `seq[0]` / `list[i]` work as in Python.
import type { Tensor } from '../../tensor/tensor'
import { Module } from '../module'
import { normActivationOf } from './activation'
import { BatchNormBase } from './norm'

function checkModule(where: string, m: unknown): Module {
  if (!(m instanceof Module))
    throw new Error(
      `${where}: expected a Module, got ${m === null ? 'null' : typeof m === 'object' ? (m as object).constructor?.name : typeof m}`,
    )
  return m
}

function index(where: string, i: number, length: number): number {
  const j = i < 0 ? i + length : i
  if (!Number.isInteger(i) || j < 0 || j >= length)
    throw new Error(`${where}: index ${i} is out of range for ${length} modules`)
  return j
}

export class Sequential extends Module {
  [index: number]: Module

  /** `new Sequential(a, b, c)` names the children '0', '1', '2'. */
  constructor(...modules: Module[]) {
    super()
    modules.forEach((m, i) => this.registerModule(String(i), checkModule(`Sequential: argument ${i}`, m)))
  }

  /** A Sequential with named children, in the order given (torch's Sequential(OrderedDict(...))). */
  static named(entries: [string, Module][] | Record<string, Module>): Sequential {
    const seq = new Sequential()
    for (const [name, m] of Array.isArray(entries) ? entries : Object.entries(entries))
      seq.registerModule(name, checkModule(`Sequential.named: '${name}'`, m))
    return seq
  }

  get length(): number {
    return this.namedChildren().length
  }

  /** The i-th child (negative counts from the end), whatever its name. */
  get(i: number): Module {
    const children = this.children()
    return children[index('Sequential.get', i, children.length)]
  }

  append(m: Module): this {
    this.registerModule(String(this.length), checkModule('Sequential.append', m))
    return this
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]()
  }

  override forward(x: Tensor): Tensor {
    const children = this.children()
    let y: unknown = x
    for (let i = 0; i < children.length; i++) {
      const m = children[i]
      // A batch norm and the ReLU, GELU or SiLU after it run as one kernel.
      const act = m instanceof BatchNormBase ? normActivationOf(children[i + 1]) : undefined
      if (act) {
        y = (m as BatchNormBase).forwardActivated(y as Tensor, act)
        i++
      } else y = m.forward(y)
    }
    return y as Tensor
  }
}

/** Holds modules so that they are registered; has no forward (index or iterate it). */
export class ModuleList<T extends Module = Module> extends Module {
  [index: number]: T

  constructor(modules: Iterable<T> = []) {
    super()
    this.extend(modules)
  }

  get length(): number {
    return this.namedChildren().length
  }

  get(i: number): T {
    const children = this.children() as T[]
    return children[index('ModuleList.get', i, children.length)]
  }

  append(m: T): this {
    this.registerModule(String(this.length), checkModule('ModuleList.append', m))
    return this
  }

  extend(modules: Iterable<T>): this {
    for (const m of modules) this.append(m)
    return this
  }

  /** Inserts before position i, renumbering the modules after it. */
  insert(i: number, m: T): this {
    checkModule('ModuleList.insert', m)
    const items = this.children() as T[]
    const at = i === items.length ? i : index('ModuleList.insert', i, items.length)
    items.forEach((_, k) => this.unregister(String(k)))
    items.splice(at, 0, m)
    items.forEach((c, k) => this.registerModule(String(k), c))
    return this
  }

  [Symbol.iterator](): Iterator<T> {
    return (this.children() as T[])[Symbol.iterator]()
  }

  override forward(): never {
    throw new Error('ModuleList: has no forward(); iterate over it or index it')
  }
}

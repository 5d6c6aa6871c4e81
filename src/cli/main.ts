#!/usr/bin/env node
// The intern-vision command line: a table of commands. Each lives in src/cli/<name>.ts,
// exports `<name>Command(argv): Promise<number>` (the exit code) and prints its own usage for
// --help; it is loaded only when it runs, so --help and --version stay instant.
// Exit codes: 0 done, 1 the command failed, 2 bad usage (unknown command or option).

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = <T>(id: string): T => require(id) as T

interface Command {
  /** One line for the command list. */
  summary: string
  run: (argv: string[]) => Promise<number>
}

const COMMANDS: Record<string, Command> = {
  train: {
    summary: 'train a zoo model on a GV-D dataset, checkpoint, evaluate',
    run: (argv) => load<typeof import('./train')>('./train').trainCommand(argv),
  },
  run: {
    summary: 'the whole INTERN pipeline (upstream stages, baselines, GV-B, Down-A) and its report',
    run: (argv) => load<typeof import('./run')>('./run').runCommand(argv),
  },
  pretrain: {
    summary: 'one upstream stage: amateur, expert (C, D or S) or generalist',
    run: (argv) => load<typeof import('./pretrain')>('./pretrain').pretrainCommand(argv),
  },
  evaluate: {
    summary: "score a backbone on GV-B tasks into a run folder's results and report",
    run: (argv) => load<typeof import('./evaluate')>('./evaluate').evaluateCommand(argv),
  },
  search: {
    summary: 'search MetaNet architectures under a FLOPs budget (GV-A)',
    run: (argv) => load<typeof import('./search')>('./search').searchCommand(argv),
  },
  info: {
    summary: 'the CPU kernel set, threads and CUDA availability',
    run: (argv) => load<typeof import('./info')>('./info').infoCommand(argv),
  },
}

const USAGE = `usage: intern-vision <command> [options]

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`)
  .join('\n')}

intern-vision <command> --help   a command's options
intern-vision --version          the package version`

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    console.log(USAGE)
    return 0
  }
  if (name === 'help') return main([rest[0], '--help'])
  if (name === '--version') {
    console.log(load<typeof import('../runtime')>('../runtime').packageVersion())
    return 0
  }
  if (name === undefined) {
    console.error(USAGE)
    return 2
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (!command) {
    console.error(`intern-vision: unknown ${name.startsWith('-') ? 'option' : 'command'} '${name}'\n\n${USAGE}`)
    return 2
  }
  return command.run(rest)
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`intern-vision: ${err.message}`)
      process.exit(1)
    },
  )
}

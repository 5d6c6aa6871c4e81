// Runs `intern-vision search` with the given arguments in its own process (search.test.ts kills it).
import { searchCommand } from '../../src/cli/search'

searchCommand(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.message)
    process.exit(1)
  },
)

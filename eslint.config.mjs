// Lint rules for the TypeScript sources, tests, benches and examples; layout is Prettier's
// (.prettierrc.json). `npm run lint` runs both; test/structure/lint.test.ts runs it in CI.
import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {
    ignores: [
      'lib/',
      'build/',
      'build-cuda/',
      'build-mpi/',
      'prebuilds/',
      'node_modules/',
      'runs/',
      'bench/out/',
      '.tap/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // A leading underscore marks a binding kept on purpose (a destructured field left out of a rest object).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // `import x = require('node:fs')` gives a module object that tests may patch; plain require() stays banned.
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
      // Prettier wraps code at 120 columns but leaves comments and long messages alone.
      'max-len': [
        'error',
        { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
      // `[state, a] = next(state)` reassigns `state`, so its sibling stays `let`.
      'prefer-const': ['error', { destructuring: 'all' }],
    },
  },
  {
    // Build helpers and GPU check scripts are plain CommonJS run by node.
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
)

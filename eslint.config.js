// Lint: typescript-eslint's type-aware recommended rules over everything tsc compiles, plus tests.
// Formatting is Prettier's job (`prettier --check` in `npm run lint`), so no stylistic rules here.
// The layering rules below keep the dependency graph pointing one way: protocol/ is the contract
// and imports nothing of ours; src/ never imports tests/ or bench/; a DataNode never imports the
// client (the RPC transport they share lives in src/common/). ESLint applies the last matching
// config's options for a rule, so the src/datanode/ entry repeats the src/ patterns.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Import specifiers are relative paths (`../../tests/support/x.js`), matched from their start.
const NOT_SRC = {
  regex: '^(\\.\\./)+src/',
  message: 'protocol/ is the contract: it imports nothing from src/.',
};
const NOT_TESTS_OR_BENCH = {
  regex: '^(\\.\\./)+(tests|bench)/',
  message: 'Production code never imports tests/ or bench/.',
};
const NOT_CLIENT = {
  regex: '^(\\.\\./)+(src/)?client/',
  message: 'A DataNode never imports the client; shared transport belongs in src/common/.',
};

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.dfs-local/', 'bin/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // vitest.config.ts lies outside every tsconfig's folder; tests/tsconfig.json includes it.
        projectService: { allowDefaultProject: ['vitest.config.ts'], defaultProject: 'tests/tsconfig.json' },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // A leading underscore marks a parameter kept for a signature (an interface method, a
      // commander action), as the code already does.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  { files: ['**/*.js', '**/*.mjs'], extends: [tseslint.configs.disableTypeChecked] },
  {
    // The NameNode's web UI (plain ES modules run by browsers): the browser globals it uses.
    files: ['web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        [
          'document',
          'window',
          'location',
          'fetch',
          'URLSearchParams',
          'XMLHttpRequest',
          'setTimeout',
          'clearTimeout',
          'prompt',
          'confirm',
          'performance',
          'localStorage',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    files: ['protocol/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NOT_SRC, NOT_TESTS_OR_BENCH] }] },
  },
  {
    files: ['src/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NOT_TESTS_OR_BENCH] }] },
  },
  {
    files: ['src/datanode/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NOT_TESTS_OR_BENCH, NOT_CLIENT] }] },
  },
);

// Lint: ESLint's and typescript-eslint's recommended rules, plus the module-boundary rule from
// STYLE.md: src/fhir must not import the modules built on top of it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', '.tmp/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', URLSearchParams: 'readonly', fetch: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', structuredClone: 'readonly', performance: 'readonly', Headers: 'readonly', NodeJS: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    files: ['tests/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['src/fhir/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/hl7-adapters/**', '**/subscriptions/**', '**/care-plans/**', '**/auth/**', '**/cds-hooks/**', '**/server.ts', '**/http-app.ts'], message: 'src/fhir is the base module: it must not import the modules built on it (STYLE.md rule 1).' }] }],
    },
  },
);

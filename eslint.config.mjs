// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-tools/**',
      '.package/**',
      '.dist-next/**',
      'node_modules/**',
      'coverage/**',
      '**/*.js',
      '**/*.cjs',
      '**/*.mjs',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // NOTE: tests may use non-null assertions on values they just asserted exist.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'devkit/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // NOTE: devkit/ (Graph simulator, in-memory store, Azurite starter, harness) is for tests,
    // tools and benchmarks; what ships to Azure never imports it.
    files: ['functions/**/*.ts', 'shared/**/*.ts', 'cli/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/devkit/**', '**/test/**'],
              message: 'production code does not import devkit/ or test/',
            },
          ],
        },
      ],
    },
  },
  prettier,
);

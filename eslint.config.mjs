// Type-aware lint: floating promises are bugs here (a dropped ledger write is lost money).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/require-await': 'off',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // One namespace per method (name, RequestType, Params, Result), as vscode-eslint's customMessages do.
    files: ['protocol/**/*.ts'],
    rules: { '@typescript-eslint/no-namespace': 'off' },
  },
  {
    // Dashboards run in a browser or a webview: protocol types (its method constants would bundle vscode-jsonrpc)
    // and its plain constants (protocol/errors), browser packages; never server/, extension/, cli/ or Node.
    files: ['webviews/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)(server|extension|cli)(/|$)',
              message: 'webviews must not import server/, extension/ or cli/',
            },
            { regex: '^(node:|vscode$|vscode-jsonrpc)', message: 'webviews run in a browser' },
            {
              regex: '(^|/)protocol(/(index|methods|analytics|archive|forecast|crews|runs|recommendations|node))?$',
              allowTypeImports: true,
              message: 'import types only from protocol/ (values: protocol/errors)',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);

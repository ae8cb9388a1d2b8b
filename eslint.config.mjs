// Type-aware lint: floating promises are bugs here (a dropped ledger write is lost money).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import n8nNodesBase from 'eslint-plugin-n8n-nodes-base';

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
  // n8n-nodes/: n8n's own lint rules for community packages, on the files and with the exceptions @n8n/node-cli
  // configures them (package.json, credentials/, nodes/), plus what n8n Cloud lets a community node use: no import
  // but n8n-workflow, none of the Node globals its rules restrict.
  {
    files: ['n8n-nodes/**/*.ts'],
    plugins: { 'n8n-nodes-base': n8nNodesBase },
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^(?!n8n-workflow$|\\.)', message: 'n8n community nodes import nothing but n8n-workflow' },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['clearInterval', 'clearTimeout', 'global', 'globalThis', 'process', 'setInterval', 'setTimeout'],
        ...['setImmediate', 'clearImmediate', '__dirname', '__filename', 'require', 'module', 'Buffer'],
      ],
    },
  },
  {
    files: ['n8n-nodes/credentials/**/*.ts'],
    rules: {
      ...n8nNodesBase.configs.credentials.rules,
      'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off',
      'n8n-nodes-base/cred-class-field-type-options-password-missing': 'off',
    },
  },
  {
    files: ['n8n-nodes/nodes/**/*.ts'],
    rules: {
      ...n8nNodesBase.configs.nodes.rules,
      'n8n-nodes-base/node-class-description-inputs-wrong-regular-node': 'off',
      'n8n-nodes-base/node-class-description-outputs-wrong': 'off',
      'n8n-nodes-base/node-param-type-options-max-value-present': 'off',
    },
  },
  {
    // The copy of protocol/ keeps its namespaces (one per method, as protocol/ has them).
    files: ['n8n-nodes/nodes/shared/protocol.generated.ts'],
    rules: { '@typescript-eslint/no-namespace': 'off' },
  },
  {
    files: ['n8n-nodes/package.json'],
    extends: [tseslint.configs.disableTypeChecked],
    plugins: { 'n8n-nodes-base': n8nNodesBase },
    languageOptions: { parser: tseslint.parser, parserOptions: { extraFileExtensions: ['.json'] } },
    rules: {
      ...n8nNodesBase.configs.community.rules,
      // A JSON document parses as one expression statement.
      '@typescript-eslint/no-unused-expressions': 'off',
    },
  },
);

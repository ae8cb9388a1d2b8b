// The protocol types the n8n nodes use, copied from protocol/ into nodes/shared/protocol.generated.ts: community
// nodes may import nothing but n8n-workflow, so they cannot import protocol/ (it imports vscode-jsonrpc). The copy
// keeps each declaration's text and comments; namespaces lose only their `type` (a vscode-jsonrpc RequestType).
// Everything the listed roots reference is copied with them.
//
//   node n8n-nodes/scripts/protocol.mjs            rewrite the copy (the build does this)
//   node n8n-nodes/scripts/protocol.mjs --check    exit 1 when the copy differs from what protocol/ gives
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as prettier from 'prettier';
import ts from 'typescript';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../..');
export const PROTOCOL_DIR = path.join(ROOT, 'protocol');
export const GENERATED = path.join(ROOT, 'n8n-nodes/nodes/shared/protocol.generated.ts');

/** What the nodes call and read; their dependencies follow. */
export const ROOTS = [
  'ErrorCodes',
  'ServerHealth',
  'BudgetSet',
  'BudgetStatusRequest',
  'BudgetAlerts',
  'BudgetDelete',
  'CostReport',
  'CostRecommendations',
  'CostForecast',
  'CostVerify',
  'MemoryAdd',
  'MemorySearch',
  'MemoryGet',
  'MemoryDelete',
  'MemoryList',
  'MemoryUpdate',
  'MemoryContext',
  'MemoryDuplicates',
  'MemoryMerge',
  'ArchiveCreate',
  'ArchiveRestore',
  'ArchiveList',
  'ArchiveDelete',
  'AnalyticsSummary',
  'AnalyticsInsights',
  'AnalyticsRecommendations',
  'CrewRun',
  'CrewEstimate',
  'CrewRuns',
  'CrewList',
  'CrewGet',
  'CrewCreate',
  'CrewUpdate',
  'LedgerList',
  'ModelsList',
  'ChatComplete',
  'WebhookRegister',
  'WebhookUnregister',
  'WebhookList',
  'WebhookDelivery',
  'WEBHOOK_EVENTS',
];

/** index.ts re-exports; node.ts is the Node-only part (paths, discovery). */
const SKIPPED_FILES = new Set(['index.ts', 'node.ts']);

function declaredName(stmt) {
  if (ts.isVariableStatement(stmt)) {
    const [decl] = stmt.declarationList.declarations;
    return decl && ts.isIdentifier(decl.name) ? decl.name.text : undefined;
  }
  return stmt.name && ts.isIdentifier(stmt.name) ? stmt.name.text : undefined;
}

/** `export const type = new RequestType…` / `NotificationType…`: the one thing in a namespace that needs vscode-jsonrpc. */
function isJsonRpcType(stmt) {
  if (!ts.isVariableStatement(stmt)) return false;
  const init = stmt.declarationList.declarations[0]?.initializer;
  return !!init && ts.isNewExpression(init) && /^(Request|Notification)Type\d*$/.test(init.expression.getText());
}

/** Every top-level declaration of protocol/, by name, in file order. */
async function readDeclarations() {
  const files = (await fs.readdir(PROTOCOL_DIR)).filter((f) => f.endsWith('.ts') && !SKIPPED_FILES.has(f)).sort();
  const decls = new Map();
  for (const file of files) {
    const text = await fs.readFile(path.join(PROTOCOL_DIR, file), 'utf8');
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    sf.statements.forEach((stmt, index) => {
      if (ts.isImportDeclaration(stmt) || ts.isExportDeclaration(stmt)) return;
      const name = declaredName(stmt);
      if (name && !decls.has(name)) decls.set(name, { file, index, stmt, sf });
    });
  }
  return decls;
}

/** Names of other declarations that `node` mentions (types, namespaces, values). */
function referencedNames(node, decls, own) {
  const found = new Set();
  const visit = (n) => {
    if (ts.isIdentifier(n) && n.text !== own && decls.has(n.text)) {
      const parent = n.parent;
      // `x.name` property accesses and member names are not references to a declaration called `name`.
      const isMemberName =
        (ts.isPropertyAccessExpression(parent) && parent.name === n) ||
        (ts.isQualifiedName(parent) && parent.right === n) ||
        ((ts.isPropertySignature(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) &&
          parent.name === n);
      if (!isMemberName) found.add(n.text);
    }
    ts.forEachChild(n, visit);
  };
  for (const child of ts.isModuleDeclaration(node) ? (node.body?.statements ?? []) : [node]) {
    if (!isJsonRpcType(child)) visit(child);
  }
  return found;
}

/** protocol/'s `// ── budgets ───` banners head a group of declarations, not the one they happen to precede. */
const withoutBanners = (text) => text.replace(/^(\s*\/\/ ──[^\n]*\n)+/, '').trim();

/** The declaration's source text with its leading doc comment, minus a namespace's `type`. */
function declarationText({ stmt, sf }) {
  const full = sf.text.slice(stmt.getFullStart(), stmt.getEnd());
  if (!ts.isModuleDeclaration(stmt) || !stmt.body || !ts.isModuleBlock(stmt.body)) return withoutBanners(full);
  let out = '';
  let from = stmt.getFullStart();
  for (const inner of stmt.body.statements) {
    if (!isJsonRpcType(inner)) continue;
    out += sf.text.slice(from, inner.getFullStart());
    from = inner.getEnd();
  }
  return withoutBanners(out + sf.text.slice(from, stmt.getEnd()));
}

export async function generateProtocol() {
  const decls = await readDeclarations();
  const wanted = new Set();
  const queue = [...ROOTS];
  while (queue.length) {
    const name = queue.pop();
    if (wanted.has(name)) continue;
    const d = decls.get(name);
    if (!d) throw new Error(`protocol/ declares no ${name} (n8n-nodes/scripts/protocol.mjs ROOTS)`);
    wanted.add(name);
    queue.push(...referencedNames(d.stmt, decls, name));
  }
  const chosen = [...wanted]
    .map((name) => decls.get(name))
    .sort((a, b) => a.file.localeCompare(b.file) || a.index - b.index);
  let text =
    '/**\n * GENERATED from protocol/ by n8n-nodes/scripts/protocol.mjs (run by `npm run build`): do not edit.\n' +
    " * The nodes' copy of the contract (community nodes import nothing but n8n-workflow); a unit test fails when\n" +
    ' * it differs from protocol/.\n */\n';
  let file;
  for (const d of chosen) {
    if (d.file !== file) text += `\n// ── protocol/${(file = d.file)} ──\n`;
    text += `\n${declarationText(d)}\n`;
  }
  const options = (await prettier.resolveConfig(GENERATED)) ?? {};
  return prettier.format(text, { ...options, filepath: GENERATED });
}

/** Rewrites the copy when it changed; true when it did. */
export async function writeProtocol() {
  const next = await generateProtocol();
  const current = await fs.readFile(GENERATED, 'utf8').catch(() => '');
  if (current === next) return false;
  await fs.writeFile(GENERATED, next);
  return true;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--check')) {
    const current = await fs.readFile(GENERATED, 'utf8').catch(() => '');
    if (current !== (await generateProtocol())) {
      console.error(`${path.relative(ROOT, GENERATED)} is stale: run npm run build`);
      process.exit(1);
    }
  } else if (await writeProtocol()) console.log(`wrote ${path.relative(ROOT, GENERATED)}`);
}

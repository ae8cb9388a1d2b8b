// A minimal extension timed the same way as ours: an output channel, a tree view, a status bar item, a command.
const vscode = require('vscode');

exports.activate = function activate(context) {
  const started = performance.now();
  const output = vscode.window.createOutputChannel('Baseline');
  const tree = vscode.window.createTreeView('benchBaseline.items', {
    treeDataProvider: { getTreeItem: (e) => e, getChildren: () => [] },
  });
  const item = vscode.window.createStatusBarItem('benchBaseline.status', vscode.StatusBarAlignment.Left, 1);
  item.text = 'baseline';
  item.show();
  context.subscriptions.push(
    output,
    tree,
    item,
    vscode.commands.registerCommand('benchBaseline.hello', () => 1),
  );
  return { activationMs: performance.now() - started };
};
exports.deactivate = function deactivate() {};

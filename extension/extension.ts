/**
 * Entry point. Activation builds the owner (crew.ts) and returns at once: connecting to crew-server happens in
 * the background, so activation costs only our own setup, which is measured and logged. The returned API is
 * what the extension-host tests read.
 */
import type * as vscode from 'vscode';
import { CrewExtension } from './crew';

export interface CrewExtensionApi {
  /** The extension's own activation time (ms): from activate() being called to it returning. */
  activationMs: number;
  crew: CrewExtension;
}

let current: CrewExtension | undefined;

export function activate(context: vscode.ExtensionContext): CrewExtensionApi {
  const started = performance.now();
  current = new CrewExtension(context);
  context.subscriptions.push(current);
  current.start();
  const activationMs = performance.now() - started;
  current.output.appendLine(`[extension] activated in ${activationMs.toFixed(1)} ms`);
  return { activationMs, crew: current };
}

export function deactivate(): void {
  current?.dispose();
  current = undefined;
}

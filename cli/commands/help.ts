/** The `Example:` block every command's --help ends with (STYLE.md: "every command has --help with an example"). */
export function example(...lines: string[]): string {
  return `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  ${l}`).join('\n')}`;
}

/**
 * Server-Sent Events as OpenRouter sends them, read incrementally: `data:` lines make an event's data (joined by
 * newlines), a blank line ends the event, and `:` comment lines (OpenRouter's `: OPENROUTER PROCESSING`) and other
 * fields are skipped. Text arrives in pieces cut anywhere, lines included.
 */
export class SseReader {
  private rest = '';
  private data: string[] = [];

  constructor(private readonly onEvent: (data: string) => void) {}

  push(text: string): void {
    let from = 0;
    let buf = this.rest ? this.rest + text : text;
    for (;;) {
      const nl = buf.indexOf('\n', from);
      if (nl < 0) break;
      const end = nl > from && buf.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.line(buf.slice(from, end));
      from = nl + 1;
    }
    buf = buf.slice(from);
    this.rest = buf;
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length) {
        const data = this.data.length === 1 ? this.data[0]! : this.data.join('\n');
        this.data = [];
        this.onEvent(data);
      }
      return;
    }
    if (line.startsWith('data:')) this.data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
  }
}

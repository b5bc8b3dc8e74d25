/**
 * A NATS publisher that writes the client protocol itself, for attacks the `nats` package makes
 * slow or impossible to send: a header block of a megabyte and tens of thousands of lines (the
 * package's own header encoder is as slow as its decoder). Disposable: `await using raw = ...`.
 */
import { connect, type Socket } from 'node:net';

/** A header block of about `bytes` bytes in `lines` lines (status line and final blank line included). */
export function headerBomb(bytes: number, lines: number): Buffer {
  const per = Math.max(8, Math.floor(bytes / lines));
  const parts = ['NATS/1.0\r\n'];
  let size = parts[0]!.length + 2;
  for (let i = 0; size + per <= bytes && i < lines - 2; i++) {
    const name = `X-${i}: `;
    const line = name + 'v'.repeat(Math.max(1, per - name.length - 2)) + '\r\n';
    parts.push(line);
    size += line.length;
  }
  parts.push('\r\n');
  return Buffer.from(parts.join(''), 'latin1');
}

export class RawNats {
  readonly #socket: Socket;
  #buffer = '';
  #waiters: Array<(line: string) => void> = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer += chunk.toString('latin1');
      let nl: number;
      while ((nl = this.#buffer.indexOf('\r\n')) >= 0) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 2);
        if (line === 'PING') socket.write('PONG\r\n');
        else if (line.startsWith('PONG') || line.startsWith('-ERR')) this.#waiters.shift()?.(line);
      }
    });
  }

  /** Connects to `url` (`nats://host:port`), with user and password when given. */
  static async open(url: string, auth: { user?: string; pass?: string } = {}): Promise<RawNats> {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const raw = new RawNats(socket);
    const options = { verbose: false, pedantic: false, headers: true, no_responders: true, lang: 'raw', version: '0', protocol: 1, user: auth.user, pass: auth.pass };
    socket.write(`CONNECT ${JSON.stringify(options)}\r\n`);
    const answer = await raw.ping();
    if (answer.startsWith('-ERR')) throw new Error(`raw NATS connection refused: ${answer}`);
    return raw;
  }

  /** PING, resolved by the PONG (or an -ERR): everything written before has been processed. */
  ping(): Promise<string> {
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#socket.write('PING\r\n');
    });
  }

  /** HPUB with a header block given as raw bytes (it must end with an empty line). */
  publish(subject: string, header: Uint8Array, body: Uint8Array, reply?: string): void {
    const total = header.length + body.length;
    this.#socket.write(`HPUB ${subject}${reply ? ` ${reply}` : ''} ${header.length} ${total}\r\n`);
    this.#socket.write(header);
    this.#socket.write(body);
    this.#socket.write('\r\n');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#socket.destroy();
  }
}

/**
 * A TCP proxy in front of Redis that can lose one reply: once armed, the next command
 * matching a predicate is forwarded and executed by Redis, and instead of its reply the
 * client gets a closed connection, as when Redis dies after applying a command or a
 * network path breaks after it. The command's effect is applied; the client cannot know.
 */
import net from 'node:net';

export class ReplyDroppingProxy {
  private armedFor: ((command: string) => boolean) | undefined;
  private onDropped: ((command: string) => void) | undefined;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(redisPort: number): Promise<ReplyDroppingProxy> {
    let proxy: ReplyDroppingProxy | undefined;
    const server = net.createServer((client) => proxy!.connect(client, redisPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy = new ReplyDroppingProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Lose the reply of the next command whose RESP text matches; resolves with that command once dropped. */
  dropNextReply(matches: (command: string) => boolean): Promise<string> {
    return new Promise((resolve) => {
      this.armedFor = matches;
      this.onDropped = resolve;
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private connect(client: net.Socket, redisPort: number): void {
    const upstream = net.connect(redisPort, '127.0.0.1');
    this.sockets.add(client).add(upstream);
    let dropping: string | undefined;
    client.on('data', (chunk) => {
      const text = chunk.toString('latin1');
      if (dropping === undefined && this.armedFor?.(text)) {
        this.armedFor = undefined;
        dropping = text;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (dropping !== undefined) {
        // Redis has run the command and answered: the answer never arrives.
        client.destroy();
        upstream.destroy();
        this.onDropped?.(dropping);
        this.onDropped = undefined;
        return;
      }
      client.write(chunk);
    });
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      a.on('error', () => b.destroy());
      a.on('close', () => {
        b.destroy();
        this.sockets.delete(a);
      });
    }
  }
}

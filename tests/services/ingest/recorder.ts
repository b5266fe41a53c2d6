import type { DeadLetterSink, IngestDeadLetter } from '../../../services/ingest/ingestor.ts';
import type { PointWriter } from '../../../services/ingest/writer.ts';

/** Writer and dead-letter store of an Ingestor under test in one: keeps every line and dead letter it is given. */
export class Recorder implements DeadLetterSink, PointWriter {
  readonly lines: string[] = [];
  readonly deadLetters: IngestDeadLetter[] = [];
  async write(lines: string[]): Promise<void> {
    this.lines.push(...lines);
  }
  async flush(): Promise<void> {}
  async addDeadLetter(d: IngestDeadLetter): Promise<number> {
    this.deadLetters.push(d);
    return this.deadLetters.length;
  }
  async touchDevices(): Promise<void> {}
  async updateSuppressed(): Promise<void> {}
}

// Child process for the spool crash test: appends records forever, printing each id once its
// append resolved (i.e. once it is durable), and `ack <id>` before it acknowledges one. The parent kills it with SIGKILL at a random moment.
import { Spool } from '../../src/sinks/spool.js';

const [dir, maxRecords] = process.argv.slice(2);
const spool = await Spool.open({ dir: dir!, maxRecords: Number(maxRecords ?? 100000) });
for (let i = 0; ; i++) {
  const id = `rec-${process.pid}-${i}`;
  await spool.append([{ stream: 'Custom-T', id, record: { RecordId: id, pad: 'x'.repeat(i % 2000) } }]);
  process.stdout.write(`${id}\n`);
  if (i % 7 === 0) {
    const old = await spool.list(2);
    // Announced before the ack (pipe writes are synchronous on Linux): a kill between the ack and
    // a later line would otherwise leave the parent expecting a record the child removed.
    if (old.length === 2) {
      process.stdout.write(`ack ${old[0]!.id}\n`);
      await spool.ack([old[0]!.id]);
    }
  }
}

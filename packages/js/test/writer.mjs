// A writer in a process of its own, for the crash test: appends records to the trail in
// argv[2] (lease argv[3] ms), printing "seq hash" after each acknowledgement, until killed.
import { Trail } from "@evident/trail";

const trail = await Trail.open(process.argv[2], { leaseMs: Number(process.argv[3]), segmentBytes: 8192, holder: "crash-writer" });
for (let n = 0; ; ) {
  const rs = n % 2 ? await trail.appendBatch([1, 2, 3].map((i) => `record ${n + i}`)) : [await trail.append(`record ${n + 1}`)];
  n += rs.length;
  process.stdout.write(rs.map((r) => `${r.seq} ${r.hash}\n`).join(""));
}

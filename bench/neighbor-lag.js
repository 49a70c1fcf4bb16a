'use strict';
// node bench/neighbor-lag.js MS: the event-loop lag of a Node process that does nothing, over MS
// milliseconds, printed as one JSON line after a "ready" line. Run beside a throughput measurement,
// it is the floor of that measurement's lag: the same machine load (the spawned processes, the
// kernel's work for them, the spawning process), and no JavaScript work of its own.
const { idleLag } = require('./measure');

(async () => {
  process.stdout.write('ready\n');
  const lag = await idleLag(Number(process.argv[2]));
  process.stdout.write(`${JSON.stringify(lag)}\n`);
})();

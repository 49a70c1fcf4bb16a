'use strict';
// The forked side of the IPC round-trip benchmark: answers every message with itself.
process.on('message', (message) => process.send(message));

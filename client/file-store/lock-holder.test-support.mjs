// Test support: a process that stays alive until killed, so a test can put its id in a lock file.
process.send?.("ready");
setInterval(() => undefined, 1000);

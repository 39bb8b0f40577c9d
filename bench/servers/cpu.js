// Every bench server answers the runner's "cpu" message with its own CPU time, so the runner can measure
// the server's CPU per request over exactly the measured window (the load generator shares the machine).
process.on("message", (m) => {
  if (m?.cmd === "cpu") process.send?.({ cpu: process.cpuUsage() });
});

/**
 * The HandyRep side of bench:poll, run as its own process from compiled JavaScript (as the
 * daemon runs in production) so its memory is measured without the test bed or a TypeScript
 * loader. Argument: a JSON job; prints one JSON line of timings and max RSS.
 */
import { HandyRep } from '../src/api/handyrep.js';

interface Job {
  config: string;
  rounds: number;
  expectFailures: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as Job;
let rssMax = 0;
let heapMax = 0;
const sample = (): void => {
  const usage = process.memoryUsage();
  rssMax = Math.max(rssMax, usage.rss);
  heapMax = Math.max(heapMax, usage.heapTotal);
};
const timer = setInterval(sample, 20);

const hr = await HandyRep.open(job.config);
const times: number[] = [];
try {
  for (let i = 0; i < job.rounds; i += 1) {
    const started = performance.now();
    const rd = await hr.poll_all();
    times.push(performance.now() - started);
    const failures = Object.values(rd.servers).filter((s) => s.result === 'FAIL').length;
    if (rd.result !== 'SUCCESS' || failures !== job.expectFailures) {
      throw new Error(`unexpected poll_all result (${failures} failures): ${rd.details}`);
    }
    sample();
  }
} finally {
  clearInterval(timer);
  await hr.close();
}
console.log(JSON.stringify({ times, rssMaxMb: rssMax / 1048576, heapTotalMaxMb: heapMax / 1048576 }));

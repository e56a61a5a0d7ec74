/**
 * One bare consume of the windows bench (kafka-windows.ts) in its own process, so its CPU and
 * peak RSS (VmHWM) are its own: BENCH_CLIENT (kafkajs or platformatic) counts BENCH_EVENTS
 * records of BENCH_TOPIC. Prints one JSON line: the bench result, CPU seconds and peak RSS.
 */
import { readFileSync } from 'node:fs';
import { rawConsume, rawPlatformaticConsume } from './bare-consume.ts';

const brokers = process.env.KAFKA_BROKERS!.split(',');
const topic = process.env.BENCH_TOPIC!;
const n = Number(process.env.BENCH_EVENTS);
const bare = process.env.BENCH_CLIENT === 'platformatic' ? await rawPlatformaticConsume(brokers, topic, n) : await rawConsume(brokers, undefined, topic, n);
const cpu = process.cpuUsage();
const peakRssMb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
process.stdout.write(`${JSON.stringify({ bare, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMb })}\n`);
process.exit(0);

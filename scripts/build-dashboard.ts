/** Builds dist/dashboard/index.html (run by `npm install` through the `prepare` script). */
import { buildDashboard } from '../src/push/dashboard-bundle.ts';

const started = performance.now();
const path = await buildDashboard();
console.log(`[dashboard] built ${path} in ${Math.round(performance.now() - started)} ms`);

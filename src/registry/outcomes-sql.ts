import { toMillis } from '../core/duration.ts';
import { ConfigError } from '../core/errors.ts';
import { quoteIdentifier, quoteString, quoteTableName } from '../clickhouse/sql.ts';
import type { LifecycleSpec } from '../features/lifecycle-spec.ts';

/**
 * Outcome metrics of served predictions once their labels arrived: per model version and UTC day
 * of the prediction's time, over the rows the version served (source 'model', online rows):
 *
 * - AUC: the probability that a positive row scores above a negative one, ties counting one half
 *   (null with one class only);
 * - log loss, probabilities clipped to [1e-15, 1 - 1e-15];
 * - ECE (expected calibration error) over ECE_BINS equal-width bins of the probability, bin
 *   min(floor(10 p), 9): the sum over bins of (rows in bin / rows) x |mean p - share positive|,
 *   which is sum over bins |sum p - positives| / rows;
 * - precision at k: the share of positives among the k highest scores (k = min(k, rows)); rows
 *   tied with the k-th score count in proportion, positives(tied) x (places left) / rows(tied), so
 *   the value does not depend on the order of ties.
 *
 * A row is positive when its entity has a label with time in [row time - window, row time), the
 * rule training uses. Labels arrive late (chargebacks: days to weeks), so a recent day's figures
 * change while its labels come in: the job computes days again and the table keeps the latest.
 * One statement, on the server; 18.16 (no window functions), current servers and chDB.
 */

export const ECE_BINS = 10;
export const DEFAULT_PRECISION_K = 100;
const DAY_MS = 86_400_000;

export interface OutcomeQuery {
  predictionsTable: string;
  entityColumn: string;
  timeColumn: string;
  /** Model name: rows whose `model` is `<model>@<version>`. */
  model: string;
  labels: LifecycleSpec['labels'];
  /** Prediction time range [from, to), epoch ms. */
  from?: number;
  to?: number;
  /** Precision at the top k scores per version and day (default 100). */
  k?: number;
  /** Read with FINAL (a replacing table). */
  final: boolean;
  /** Only rows of this origin ('online'), where the table has the column. */
  origin?: string;
  /** Only rows of this source ('model'), where the table has the column. */
  source?: string;
}

/** Log loss clips as src/scoring/classification-metrics.ts does. */
const CLIPPED = 'least(1 - 1e-15, greatest(1e-15, score))';

export function outcomesSql(query: OutcomeQuery): string {
  const k = query.k ?? DEFAULT_PRECISION_K;
  if (!(Number.isInteger(k) && k >= 1)) throw new ConfigError('k', `${k} is not a number of rows`, 'give a whole number >= 1, e.g. --k 100');
  const entity = quoteIdentifier(query.entityColumn);
  const time = quoteIdentifier(query.timeColumn);
  const prefix = `${query.model}@`;
  const window = toMillis(query.labels.window, 'labels.window');
  const labelTime = quoteIdentifier(query.labels.timeColumn);
  const where = [
    `substring(model, 1, ${Buffer.byteLength(prefix)}) = ${quoteString(prefix)}`,
    query.from === undefined ? '' : `${time} >= ${whole(query.from)}`,
    query.to === undefined ? '' : `${time} < ${whole(query.to)}`,
    query.origin === undefined ? '' : `origin = ${quoteString(query.origin)}`,
    query.source === undefined ? '' : `source = ${quoteString(query.source)}`,
  ].filter(Boolean);
  const labelWhere = [query.from === undefined ? '' : `${labelTime} >= ${whole(query.from - window)}`, query.to === undefined ? '' : `${labelTime} < ${whole(query.to)}`].filter(Boolean);
  const eceTerms = Array.from({ length: ECE_BINS }, (_, bin) => `abs(sumIf(score * cnt - pos, bin = ${bin}))`).join(' + ');
  // Levels, innermost first: labelled rows; counts per (version, day, score); per version and
  // day the sums and the ROC curve; finally AUC and precision at k from the curve.
  return `SELECT model, version, dayStart, rowCount AS rows, positiveCount AS positives,
  if(positiveCount = 0 OR positiveCount = rowCount, nan, arraySum(arrayMap((point, below) -> tupleElement(point, 2) * (below - tupleElement(point, 3) / 2), curve, negativesUpTo)) / (positiveCount * (rowCount - positiveCount))) AS auc,
  logLoss, ece,
  if(cut = 0, positiveCount / rowCount, (positivesUpTo[greatest(cut, 1)] - tupleElement(descending[greatest(cut, 1)], 2) + (${k} - (rowsUpTo[greatest(cut, 1)] - tupleElement(descending[greatest(cut, 1)], 2) - tupleElement(descending[greatest(cut, 1)], 3))) * tupleElement(descending[greatest(cut, 1)], 2) / (tupleElement(descending[greatest(cut, 1)], 2) + tupleElement(descending[greatest(cut, 1)], 3))) / ${k}) AS precisionAtK,
  least(${k}, rowCount) AS k
FROM
(
  SELECT model, version, dayStart, rowCount, positiveCount, logLoss, ece, curve,
    arrayCumSum(arrayMap(point -> tupleElement(point, 3), curve)) AS negativesUpTo,
    arrayReverse(curve) AS descending,
    arrayCumSum(arrayMap(point -> tupleElement(point, 2) + tupleElement(point, 3), descending)) AS rowsUpTo,
    arrayCumSum(arrayMap(point -> tupleElement(point, 2), descending)) AS positivesUpTo,
    arrayFirstIndex(total -> total >= ${k}, rowsUpTo) AS cut
  FROM
  (
    SELECT model, version, dayStart,
      sum(cnt) AS rowCount,
      sum(pos) AS positiveCount,
      -sum(pos * log(${CLIPPED}) + (cnt - pos) * log(1 - ${CLIPPED})) / rowCount AS logLoss,
      (${eceTerms}) / rowCount AS ece,
      arraySort(groupArray((score, pos, cnt - pos))) AS curve
    FROM
    (
      SELECT ${quoteString(query.model)} AS model, substring(served, ${Buffer.byteLength(prefix) + 1}) AS version, intDiv(rowTime, ${DAY_MS}) * ${DAY_MS} AS dayStart,
        score, least(${ECE_BINS - 1}, toUInt32(floor(score * ${ECE_BINS}))) AS bin, count() AS cnt, sum(label) AS pos
      FROM
      (
        SELECT served, score, rowTime, arrayExists((t, at) -> t >= at - ${window} AND t < at, labelTimes, replicate(rowTime, labelTimes)) AS label
        FROM
        (
          SELECT ${entity}, model AS served, probability AS score, ${time} AS rowTime
          FROM ${quoteTableName(query.predictionsTable)}${query.final ? ' FINAL' : ''}
          WHERE ${where.join(' AND ')}
        ) AS predicted
        ANY LEFT JOIN
        (
          SELECT ${quoteIdentifier(query.labels.entityColumn)} AS ${entity}, groupArray(${labelTime}) AS labelTimes
          FROM ${quoteTableName(query.labels.table)}${labelWhere.length > 0 ? `\n          WHERE ${labelWhere.join(' AND ')}` : ''}
          GROUP BY ${entity}
        ) AS labelled USING ${entity}
      )
      GROUP BY model, version, dayStart, score, bin
    )
    GROUP BY model, version, dayStart
  )
)
ORDER BY model, version, dayStart`;
}

function whole(time: number): string {
  if (!Number.isFinite(time)) throw new ConfigError('time range', `${time} is not a time`, 'give epoch milliseconds or an ISO date');
  return String(Math.trunc(time));
}

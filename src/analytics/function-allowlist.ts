/**
 * The functions an analyst query may call: pure computations over the values in front of them.
 * Everything else is refused by not being here: functions that read files or URLs (file, url,
 * s3, ...), name other tables or dictionaries (joinGet, dictGet*, hasColumnInTable), tell about
 * the server or the session (getSetting, currentUser, hostName, version, uptime, ...), sleep,
 * introspect memory, load models, or evaluate their arguments as code. A function missing here
 * that analysts need can be added after checking that it only computes.
 *
 * Names are matched case-insensitively (ClickHouse accepts COUNT and count alike); operators
 * arrive as their functions (a + b is plus, x IN (...) is in, CASE is multiIf).
 */
const SCALAR = `
  plus minus multiply divide intDiv intDivOrZero modulo moduloOrZero positiveModulo pmod negate abs gcd lcm
  exp exp2 exp10 log ln log2 log10 log1p sqrt cbrt pow power sign sin cos tan asin acos atan atan2 sinh cosh tanh
  pi e erf erfc lgamma tgamma hypot degrees radians greatest least isNaN isFinite isInfinite ifNotFinite
  intExp2 intExp10
  equals notEquals less greater lessOrEquals greaterOrEquals isNotDistinctFrom
  and or not xor
  if multiIf caseWithExpression transform ifNull nullIf coalesce assumeNotNull toNullable isNull isNotNull isZeroOrNull
  in notIn globalIn globalNotIn nullIn notNullIn globalNullIn globalNotNullIn exists
  like notLike ilike notILike match extract extractAll extractGroups replaceOne replaceAll replaceRegexpOne replaceRegexpAll
  position positionCaseInsensitive positionUTF8 positionCaseInsensitiveUTF8 locate countSubstrings startsWith endsWith
  length lengthUTF8 char_length character_length empty notEmpty lower upper lowerUTF8 upperUTF8 lcase ucase
  reverse reverseUTF8 concat concatWithSeparator substring substr mid substringUTF8 left right leftUTF8 rightUTF8
  trim trimLeft trimRight trimBoth ltrim rtrim splitByChar splitByString splitByRegexp splitByWhitespace
  arrayStringConcat format toValidUTF8 base64Encode base64Decode tryBase64Decode hex unhex bin unbin
  leftPad rightPad lpad rpad repeat initcap initcapUTF8 concatAssumeInjective
  domain domainWithoutWWW topLevelDomain protocol path queryString fragment extractURLParameter
  encodeURLComponent decodeURLComponent cutQueryString cutFragment
  JSONHas JSONLength JSONType JSONExtract JSONExtractString JSONExtractInt JSONExtractUInt JSONExtractFloat JSONExtractBool
  JSONExtractRaw JSONExtractKeys JSONExtractArrayRaw JSONExtractKeysAndValues isValidJSON
  simpleJSONHas simpleJSONExtractString simpleJSONExtractInt simpleJSONExtractUInt simpleJSONExtractFloat
  simpleJSONExtractBool simpleJSONExtractRaw
  visitParamHas visitParamExtractString visitParamExtractInt visitParamExtractUInt visitParamExtractFloat
  visitParamExtractBool visitParamExtractRaw
  toInt8 toInt16 toInt32 toInt64 toInt128 toInt256 toUInt8 toUInt16 toUInt32 toUInt64 toUInt128 toUInt256
  toFloat32 toFloat64 toDecimal32 toDecimal64 toDecimal128 toDecimal256 toString toFixedString toBool toUUID
  toInt8OrZero toInt16OrZero toInt32OrZero toInt64OrZero toUInt8OrZero toUInt16OrZero toUInt32OrZero toUInt64OrZero
  toFloat32OrZero toFloat64OrZero toInt8OrNull toInt16OrNull toInt32OrNull toInt64OrNull toUInt8OrNull toUInt16OrNull
  toUInt32OrNull toUInt64OrNull toFloat32OrNull toFloat64OrNull toDecimal32OrNull toDecimal64OrNull
  toDateOrZero toDateOrNull toDateTimeOrZero toDateTimeOrNull toDate32OrNull toDateTime64OrNull
  CAST _CAST accurateCast accurateCastOrNull toTypeName toLowCardinality toDecimalString
  toDate toDate32 toDateTime toDateTime32 toDateTime64 toUnixTimestamp fromUnixTimestamp
  toUnixTimestamp64Milli fromUnixTimestamp64Milli toUnixTimestamp64Second fromUnixTimestamp64Second
  parseDateTimeBestEffort parseDateTimeBestEffortOrNull parseDateTimeBestEffortOrZero parseDateTime64BestEffort
  now now64 today yesterday toYear toQuarter toMonth toDayOfYear toDayOfMonth toDayOfWeek toHour toMinute toSecond
  toStartOfYear toStartOfQuarter toStartOfMonth toMonday toStartOfWeek toStartOfDay toStartOfHour toStartOfMinute
  toStartOfSecond toStartOfFiveMinutes toStartOfTenMinutes toStartOfFifteenMinutes toStartOfInterval toLastDayOfMonth
  toYYYYMM toYYYYMMDD toYYYYMMDDhhmmss toISOWeek toISOYear toWeek toYearWeek toTime timeSlot toTimeZone
  toRelativeYearNum toRelativeMonthNum toRelativeWeekNum toRelativeDayNum toRelativeHourNum toRelativeMinuteNum
  toRelativeSecondNum
  addSeconds addMinutes addHours addDays addWeeks addMonths addQuarters addYears
  subtractSeconds subtractMinutes subtractHours subtractDays subtractWeeks subtractMonths subtractQuarters subtractYears
  toIntervalSecond toIntervalMinute toIntervalHour toIntervalDay toIntervalWeek toIntervalMonth toIntervalQuarter
  toIntervalYear toIntervalMillisecond
  dateDiff date_diff age dateTrunc date_trunc formatDateTime
  array arrayElement has hasAll hasAny indexOf countEqual arrayEnumerate arrayEnumerateUniq arrayPopBack arrayPopFront
  arrayPushBack arrayPushFront arraySlice arrayConcat arrayUniq arrayJoin arrayMap arrayFilter arrayExists arrayAll
  arrayFirst arrayLast arrayFirstIndex arrayLastIndex arraySum arrayAvg arrayMin arrayMax arrayCount arraySort
  arrayReverseSort arrayReverse arrayDistinct arrayCumSum arrayDifference arrayZip arrayIntersect arrayFlatten
  arrayCompact arrayProduct arrayFill arrayReverseFill arraySplit arrayResize range emptyArrayString emptyArrayUInt8
  tuple tupleElement map mapKeys mapValues mapContains lambda
  cityHash64 sipHash64 sipHash128 xxHash32 xxHash64 murmurHash2_32 murmurHash2_64 murmurHash3_32 murmurHash3_64
  murmurHash3_128 farmHash64 MD5 SHA1 SHA224 SHA256 halfMD5 javaHash crc32 intHash32 intHash64
  round roundBankers floor ceil ceiling trunc truncate roundToExp2 roundDown roundDuration roundAge
  bitAnd bitOr bitXor bitNot bitShiftLeft bitShiftRight bitTest bitCount
  formatReadableSize formatReadableQuantity formatReadableTimeDelta bar materialize ignore identity
  isConstant finalizeAggregation rand rand32 rand64 randCanonical generateUUIDv4
`;

/** Window functions (used with OVER). */
const WINDOW = `
  row_number rank dense_rank percent_rank cume_dist ntile lagInFrame leadInFrame first_value last_value nth_value
  lag lead
`;

/** Aggregate functions; with combinator suffixes (sumIf, uniqExactIf, countDistinct, sumMerge, ...) too. */
const AGGREGATE = `
  count sum avg min max any anyLast anyHeavy any_value argMin argMax uniq uniqExact uniqCombined uniqCombined64
  uniqHLL12 groupArray groupUniqArray groupBitAnd groupBitOr groupBitXor quantile quantiles quantileExact
  quantilesExact quantileTiming quantileTDigest quantilesTDigest quantileExactWeighted median medianExact
  stddevPop stddevSamp varPop varSamp covarPop covarSamp corr topK topKWeighted sumWithOverflow sumKahan avgWeighted
  simpleLinearRegression entropy skewPop skewSamp kurtPop kurtSamp histogram
`;

/** ClickHouse's aggregate combinators (sumMap is sum with -Map). */
const COMBINATORS = ['SimpleState', 'OrDefault', 'Distinct', 'ForEach', 'OrNull', 'Merge', 'State', 'Array', 'Map', 'If'];

const words = (text: string) => new Set(text.split(/\s+/).filter(Boolean).map((name) => name.toLowerCase()));
const SCALARS = new Set([...words(SCALAR), ...words(WINDOW)]);
const AGGREGATES = words(AGGREGATE);

/** Whether an analyst query may call `name` (a function as EXPLAIN AST names it). */
export function isAllowedFunction(name: string): boolean {
  const lower = name.toLowerCase();
  return SCALARS.has(lower) || isAllowedAggregate(lower);
}

/** The IN family: their right-hand side names a table when it is a bare identifier. */
export const IN_FUNCTIONS = new Set(['in', 'notin', 'globalin', 'globalnotin', 'nullin', 'notnullin', 'globalnullin', 'globalnotnullin']);

function isAllowedAggregate(lower: string): boolean {
  if (AGGREGATES.has(lower)) return true;
  for (const combinator of COMBINATORS) {
    const suffix = combinator.toLowerCase();
    if (lower.length > suffix.length && lower.endsWith(suffix) && isAllowedAggregate(lower.slice(0, -suffix.length))) return true;
  }
  return false;
}

/** Every allowlisted name, for tests that check each exists in ClickHouse. */
export function allowlistedFunctions(): { scalars: string[]; window: string[]; aggregates: string[] } {
  const list = (text: string) => text.split(/\s+/).filter(Boolean);
  return { scalars: list(SCALAR), window: list(WINDOW), aggregates: list(AGGREGATE) };
}

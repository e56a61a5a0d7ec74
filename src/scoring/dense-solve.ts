/**
 * Solves A x = b for a small dense square system (row-major A, size n x n) by Gaussian
 * elimination with partial pivoting. Used for Newton steps, where n is the feature count + 1.
 * Returns undefined when A is singular to working precision.
 */
export function solveLinearSystem(matrix: Float64Array, rhs: Float64Array, n: number): Float64Array | undefined {
  const a = Float64Array.from(matrix);
  const x = Float64Array.from(rhs);
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i]!));
  const singular = largest * n * Number.EPSILON;
  for (let column = 0; column < n; column++) {
    let pivot = column;
    for (let row = column + 1; row < n; row++) {
      if (Math.abs(a[row * n + column]!) > Math.abs(a[pivot * n + column]!)) pivot = row;
    }
    if (!(Math.abs(a[pivot * n + column]!) > singular)) return undefined;
    if (pivot !== column) swapRows(a, x, n, pivot, column);
    const diagonal = a[column * n + column]!;
    for (let row = column + 1; row < n; row++) {
      const factor = a[row * n + column]! / diagonal;
      if (factor === 0) continue;
      for (let k = column; k < n; k++) a[row * n + k] -= factor * a[column * n + k]!;
      x[row] -= factor * x[column]!;
    }
  }
  for (let row = n - 1; row >= 0; row--) {
    let sum = x[row]!;
    for (let k = row + 1; k < n; k++) sum -= a[row * n + k]! * x[k]!;
    x[row] = sum / a[row * n + row]!;
  }
  return x;
}

function swapRows(a: Float64Array, x: Float64Array, n: number, first: number, second: number): void {
  for (let k = 0; k < n; k++) {
    const held = a[first * n + k]!;
    a[first * n + k] = a[second * n + k]!;
    a[second * n + k] = held;
  }
  const held = x[first]!;
  x[first] = x[second]!;
  x[second] = held;
}

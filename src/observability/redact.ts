/** user:password@ in any URL (redis://, rediss://, http(s)://, kafka://...). */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/]*):[^\s@/]*@/gi;

/**
 * The text with the password of every URL in it replaced by ***; the user name stays (it is not
 * a secret, and it says which account a line is about).
 *
 * @example redactUrlPasswords('redis://app:s3cret@cache:6379') // 'redis://app:***@cache:6379'
 */
export function redactUrlPasswords(text: string): string {
  return text.includes('@') ? text.replace(URL_PASSWORD, '$1$2:***@') : text;
}

/** Formatting helpers for display: durations, dates, user agents. */

/**
 * Say a duration in words.
 *
 * @param {number} seconds
 * @returns {string} e.g. `15 minutes`, `1 hour 30 minutes`, `45 seconds`
 */
export function formatDuration(seconds) {
  const s = Number(seconds);
  if (!Number.isFinite(s) || s < 0) return String(seconds);
  if (s < 60) return `${Math.round(s)} second${Math.round(s) === 1 ? '' : 's'}`;
  const units = [
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
  ];
  const parts = [];
  let rest = Math.round(s);
  for (const [name, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
    rest -= n * size;
  }
  return parts.slice(0, 2).join(' ');
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/**
 * @param {string} value an RFC 3339 time
 * @returns {{absolute: string, relative: string, iso: string}|null}
 */
export function formatTime(value, now = Date.now()) {
  if (!value) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return { absolute: String(value), relative: String(value), iso: '' };
  const diff = (date.getTime() - now) / 1000;
  const abs = Math.abs(diff);
  let text;
  if (abs < 45) text = 'just now';
  else if (abs < 3600) text = relative.format(Math.round(diff / 60), 'minute');
  else if (abs < 86400) text = relative.format(Math.round(diff / 3600), 'hour');
  else text = relative.format(Math.round(diff / 86400), 'day');
  return { absolute: dateTime.format(date), relative: text, iso: date.toISOString() };
}

/**
 * Describe a User-Agent header for people: `Chrome on Linux`.
 *
 * @param {string} userAgent
 * @returns {string}
 */
export function describeUserAgent(userAgent) {
  const ua = String(userAgent || '');
  if (!ua) return 'Unknown device';
  const browsers = [
    [/Edg(A|iOS)?\//, 'Edge'],
    [/OPR\//, 'Opera'],
    [/SamsungBrowser\//, 'Samsung Internet'],
    [/Firefox\/|FxiOS\//, 'Firefox'],
    [/HeadlessChrome\//, 'Headless Chrome'],
    [/Chrome\/|CriOS\//, 'Chrome'],
    [/Chromium\//, 'Chromium'],
    [/Version\/.*Safari\//, 'Safari'],
    [/^curl\//, 'curl'],
    [/python-requests|python-httpx|aiohttp/i, 'Python'],
  ];
  const systems = [
    [/Windows/, 'Windows'],
    [/iPhone|iPad|iPod/, 'iOS'],
    [/Android/, 'Android'],
    [/CrOS/, 'ChromeOS'],
    [/Mac OS X|Macintosh/, 'macOS'],
    [/Linux/, 'Linux'],
  ];
  const browser = browsers.find(([re]) => re.test(ua))?.[1];
  const system = systems.find(([re]) => re.test(ua))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  return browser || system || ua.split(/[\s/]/)[0] || 'Unknown device';
}

// The conformance Runnable in JavaScript: every case of conformance/README.md, selected by
// `?case=`. It answers byte for byte as the Rust twin (conformance/rust) does.
import { RunError, cache, file, graphql, http, log, req, resp, runnable, sql } from '@karman/sdk';

const orDash = (value) => value ?? '-';
const text = (bytes) => new TextDecoder().decode(bytes);

/** The first value of the first row when it is an integer, else -1. */
function integer({ rows }) {
  const value = rows[0]?.[0];
  return typeof value === 'bigint' || Number.isInteger(value) ? value : -1;
}

function sqlCase() {
  const key = orDash(req.queryParam('key'));
  const rolledBack = `${key}-rolled-back`;

  let tx = sql.begin();
  tx.execute('insert-item', [key, 7]);
  tx.commit();
  tx = sql.begin();
  tx.execute('insert-item', [rolledBack, 1]);
  tx.rollback();

  const committed = integer(sql.query('count-items', [key]));
  const discarded = integer(sql.query('count-items', [rolledBack]));
  const n = integer(sql.query('select-item', [key]));
  return `committed=${committed};rolled-back=${discarded};n=${n}`;
}

export const run = runnable((input) => {
  const name = orDash(req.queryParam('case'));
  switch (name) {
    case 'echo':
      // Through a promise, as an async handler returns: the SDK's path for one.
      return Promise.resolve(input);
    case 'params':
      return (
        `id=${orDash(req.urlParam('id'))};q=${orDash(req.queryParam('q'))};` +
        `method=${req.method()};url=${req.url()}`
      );
    case 'headers': {
      const value = orDash(req.header('x-test'));
      resp.setStatus(201);
      resp.setHeader('x-conformance', value);
      return `x-test=${value}`;
    }
    case 'state': {
      const first = req.stateText('first');
      return first === undefined ? 'one' : `first=${first}`;
    }
    case 'cache':
    case 'cache-denied': {
      cache.set('k', 'v', { ttlMs: 60_000 });
      const got = cache.getText('k');
      cache.delete('k');
      const gone = cache.get('k');
      return `set;get=${orDash(got)};delete;get=${gone === undefined ? 'none' : 'some'}`;
    }
    case 'cache-ttl-set':
      cache.set('t', 'v', { ttlMs: 100 });
      return 'set';
    case 'cache-ttl-get':
      return `get=${cache.getText('t') ?? 'none'}`;
    case 'sql':
    case 'sql-denied':
      return sqlCase();
    case 'http': {
      const response = http.get(orDash(req.queryParam('url')));
      return `status=${response.status};body=${response.text()}`;
    }
    case 'graphql': {
      const data = graphql.query(orDash(req.queryParam('endpoint')), text(input), '{}');
      return `data=${data}`;
    }
    case 'log':
      log.info(`conformance ${text(input)}`);
      return 'logged';
    case 'file':
      return `file=${file.getStaticText(orDash(req.queryParam('name')))}`;
    case 'body-field':
      return `value=${orDash(req.bodyField(orDash(req.queryParam('field'))))}`;
    case 'error':
      // A rejected promise, as an async handler that throws returns.
      return Promise.reject(new RunError(418, 'teapot'));
    default:
      throw new RunError(400, `unknown case \`${name}\``);
  }
});

// A CommonJS service: require()s the ESM-only producer (Node ^20.19 / >=22.12 load ES modules
// without top-level await through require), enqueues one request and follows it with getStatus
// until the running batcher and collector have finished it. Prints one JSON line.
const { createProducer, ValidationError } = require('@nightshift/producer');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const producer = createProducer({ redisUrl: process.env.REDIS_URL, prefix: process.env.NIGHTSHIFT_PREFIX });
  let invalid = null;
  try {
    await producer.enqueue({ key: 'bad', feature: 'cjs-service', params: { model: 'claude-haiku-4-5' } });
  } catch (err) {
    invalid = { isValidationError: err instanceof ValidationError, code: err.code, message: err.message };
  }
  const enqueued = await producer.enqueue({
    key: 'weekly-digest',
    feature: 'cjs-service',
    params: {
      model: 'claude-haiku-4-5',
      max_tokens: 32,
      messages: [{ role: 'user', content: 'Summarise the week.' }],
    },
  });
  const seen = [enqueued.status.state];
  const until = Date.now() + 60_000;
  let status = enqueued.status;
  while (status.state !== 'succeeded' && status.state !== 'dead' && Date.now() < until) {
    await sleep(100);
    status = await producer.getStatus(enqueued.customId);
    if (seen.at(-1) !== status.state) seen.push(status.state);
  }
  await producer.close();
  // Every other package this project installed loads through require() too (no top-level await in
  // any of their graphs).
  const others = Object.keys(require('./package.json').dependencies)
    .filter((dep) => dep.startsWith('@nightshift/') && dep !== '@nightshift/producer')
    .map((dep) => dep.slice('@nightshift/'.length));
  const required = others.filter((name) => Object.keys(require(`@nightshift/${name}`)).length > 0);
  console.log(
    JSON.stringify({
      invalid,
      outcome: enqueued.outcome,
      customId: enqueued.customId,
      seen,
      status,
      required,
    }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

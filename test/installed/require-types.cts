// The CommonJS view of the shipped types: under `module: nodenext`, TypeScript resolves a require()
// of the ESM-only producer to its .d.ts (as Node ^20.19 / >=22.12 load it at run time).
import producer = require('@nightshift/producer');

export const create: typeof producer.createProducer = producer.createProducer;

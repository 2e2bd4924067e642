#!/usr/bin/env node
// Runs an ONNX model that `qx export-onnx` wrote on the CIFAR-10 test images with onnxruntime's
// CPU execution provider, the external judge of qx's simulation (docs/deployment.md).
//
//   node tools/onnxruntime/judge.js --model M.onnx --data DIR --logits OUT.f32
//        [--optimized OUT.onnx] [--unoptimized-logits OUT.f32] [--images N] [--threads T] [--timing]
//
// Input: the official binary test batch (DIR/test_batch.bin), each image as float32 pixel / 255,
// which the exported graph turns back into exactly the pixels (x 255) qx normalises. Output:
// the logits, float32 [images, classes] in image order, to --logits; the model as onnxruntime
// optimised it (its fused integer kernels) to --optimized; with --unoptimized-logits, the logits of
// the same file with every graph optimisation off (each QuantizeLinear, DequantizeLinear and
// operator run as written, in float), which separates what the integer kernels change from what
// the file's own arithmetic does; one JSON line on stdout with the
// shapes, onnxruntime's version and, with --timing, milliseconds per image at batch 1 and images
// per second at batch 256. qx compares the logits with its own (qx judge); this tool only runs.
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const kImageBytes = 3 * 32 * 32;
const kRecordBytes = 1 + kImageBytes;

function parseArgs(argv) {
  const args = {images: 10000, threads: 1, timing: false};
  for (let i = 0; i < argv.length; ++i) {
    const flag = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    if (flag === '--model') args.model = next();
    else if (flag === '--data') args.data = next();
    else if (flag === '--logits') args.logits = next();
    else if (flag === '--optimized') args.optimized = next();
    else if (flag === '--unoptimized-logits') args.unoptimizedLogits = next();
    else if (flag === '--images') args.images = Number(next());
    else if (flag === '--threads') args.threads = Number(next());
    else if (flag === '--timing') args.timing = true;
    else throw new Error(`unknown argument ${flag}`);
  }
  for (const required of ['model', 'data', 'logits']) {
    if (!args[required]) throw new Error(`--${required} is required`);
  }
  if (!(args.images > 0) || !(args.threads >= 0)) throw new Error('--images must be > 0 and --threads >= 0');
  return args;
}

// The test images as float32 pixel / 255, [N, 3, 32, 32] (the file stores each image channel-major).
function loadTestImages(dataDir, count) {
  const file = path.join(dataDir, 'test_batch.bin');
  const bytes = fs.readFileSync(file);
  if (bytes.length % kRecordBytes !== 0 || bytes.length / kRecordBytes < count) {
    throw new Error(`${file}: ${bytes.length} bytes do not hold ${count} CIFAR-10 records`);
  }
  const pixels = new Float32Array(count * kImageBytes);
  for (let n = 0; n < count; ++n) {
    const record = n * kRecordBytes + 1;
    for (let j = 0; j < kImageBytes; ++j) pixels[n * kImageBytes + j] = bytes[record + j] / 255;
  }
  return pixels;
}

function batchOf(pixels, first, size) {
  return new ort.Tensor('float32', pixels.subarray(first * kImageBytes, (first + size) * kImageBytes), [size, 3, 32, 32]);
}

function sessionOptions(args, level) {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: level,
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    logSeverityLevel: 3,  // errors only: not the warning that an optimised model is machine-specific
  };
}

// Every image through `session` in batches of 256; the logits to `file`; returns the class count.
async function writeLogits(session, pixels, images, file) {
  const batch = 256;
  let classes = 0;
  const chunks = [];
  for (let first = 0; first < images; first += batch) {
    const size = Math.min(batch, images - first);
    const out = await session.run({pixels: batchOf(pixels, first, size)});
    classes = out.logits.dims[1];
    chunks.push(Buffer.from(out.logits.data.buffer, out.logits.data.byteOffset, out.logits.data.byteLength));
  }
  fs.writeFileSync(file, Buffer.concat(chunks));
  return classes;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const options = sessionOptions(args, 'all');
  if (args.optimized) options.optimizedModelFilePath = args.optimized;
  const session = await ort.InferenceSession.create(args.model, options);
  const pixels = loadTestImages(args.data, args.images);
  const classes = await writeLogits(session, pixels, args.images, args.logits);
  if (args.unoptimizedLogits) {
    const plain = await ort.InferenceSession.create(args.model, sessionOptions(args, 'disabled'));
    await writeLogits(plain, pixels, args.images, args.unoptimizedLogits);
  }

  const report = {images: args.images, classes, onnxruntime: ort.env.versions.common, threads: args.threads};
  if (args.timing) Object.assign(report, await timing(session, pixels, args.images));
  process.stdout.write(JSON.stringify(report) + '\n');
}

// Median of 5 repeats, each after the same warm-up: batch 1 over 200 images, batch 256 over 4 batches.
async function timing(session, pixels, images) {
  const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const seconds = async (size, runs) => {
    const start = process.hrtime.bigint();
    for (let r = 0; r < runs; ++r) await session.run({pixels: batchOf(pixels, (r * size) % (images - size + 1), size)});
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  await seconds(1, 20);
  const single = [];
  for (let i = 0; i < 5; ++i) single.push((await seconds(1, 200)) / 200 * 1000);
  const big = Math.min(256, images);
  await seconds(big, 1);
  const throughput = [];
  for (let i = 0; i < 5; ++i) throughput.push(4 * big / (await seconds(big, 4)));
  return {ms_per_image_b1: median(single), images_per_s_b256: median(throughput)};
}

main().catch((error) => {
  process.stderr.write(`judge.js: ${error.message.split('\n')[0]}\n`);
  process.exit(1);
});

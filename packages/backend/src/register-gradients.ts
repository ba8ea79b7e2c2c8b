// tfjs-core's own bundle registers no gradients, and its ESM file that does
// (`dist/register_all_gradients.js`) uses directory imports Node cannot load. The umbrella
// package's Node bundle registers all of them into tfjs' global gradient registry, which every
// copy of tfjs-core shares; it is what @tensorflow/tfjs-node loads too.
import '@tensorflow/tfjs';

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LdmError } from '@ldm/backend';
import type { ImageDataset } from './dataset';
import { padImagesTo32 } from './dataset';
import { loadIdx } from './idx';
import { loadImageFolder } from './image-folder';
import type { ImageFolderOptions } from './image-folder';
import { loadMnist } from './mnist';

export interface LoadDatasetOptions extends ImageFolderOptions {
  /** MNIST-family sources: pad 28×28 to 32×32 with background. Default true; for folders only when set (they use `size`). */
  padTo32?: boolean;
  /** Keep the first `limit` images. */
  limit?: number;
  /** Where to look for Fashion-MNIST; default: $LDM_FASHION_MNIST_DIR, then Debian's install paths. */
  fashionMnistDir?: string;
}

export const DATASET_SPECS = ['mnist', 'fashion-mnist', 'fashion-mnist:test', 'idx:<images>[,<labels>]', 'folder:<dir>'] as const;

/** Where Debian's `dataset-fashion-mnist` installs its IDX files. */
const FASHION_MNIST_DIRS = ['/usr/share/datasets/fashion-mnist', '/usr/share/dataset-fashion-mnist'];

/** The folder holding Fashion-MNIST's IDX files, or undefined when the Debian package is not installed. */
export function findFashionMnist(dir?: string): string | undefined {
  const candidates = dir ? [dir] : [process.env.LDM_FASHION_MNIST_DIR, ...FASHION_MNIST_DIRS].filter((d): d is string => !!d);
  return candidates.find((d) => existsSync(join(d, 'train-images-idx3-ubyte.gz')) || existsSync(join(d, 'train-images-idx3-ubyte')));
}

function fashionMnistFile(dir: string, stem: string): string {
  const gz = join(dir, `${stem}.gz`);
  return existsSync(gz) ? gz : join(dir, stem);
}

function limitImages(ds: ImageDataset, limit: number | undefined): ImageDataset {
  if (limit === undefined || limit >= ds.shape[0]) return ds;
  if (!Number.isInteger(limit) || limit < 1) throw new LdmError('INVALID_ARGUMENT', `limit must be a positive integer, got ${limit}`);
  const [, h, w, c] = ds.shape;
  const out: ImageDataset = { ...ds, images: ds.images.slice(0, limit * h * w * c), shape: [limit, h, w, c] };
  if (ds.labels) out.labels = ds.labels.slice(0, limit);
  return out;
}

/**
 * Loads a dataset named as on the command line: `mnist` (the default, embedded), `fashion-mnist` or
 * `fashion-mnist:test` (Debian's package), `idx:<images>[,<labels>]`, `folder:<dir>`.
 */
export async function loadDataset(spec = 'mnist', options: LoadDatasetOptions = {}): Promise<ImageDataset> {
  const { padTo32 = true, limit } = options;
  if (spec === 'mnist') return loadMnist(limit === undefined ? { padTo32 } : { padTo32, limit });
  if (spec === 'fashion-mnist' || spec === 'fashion-mnist:test') {
    const dir = findFashionMnist(options.fashionMnistDir);
    if (!dir) {
      const where = options.fashionMnistDir ?? [...FASHION_MNIST_DIRS].join(', ');
      throw new LdmError(
        'FILE_NOT_FOUND',
        `fashion-mnist: IDX files not found in ${where}; install them with \`apt-get install dataset-fashion-mnist\` or set LDM_FASHION_MNIST_DIR`,
      );
    }
    const prefix = spec === 'fashion-mnist' ? 'train' : 't10k';
    const ds = loadIdx(fashionMnistFile(dir, `${prefix}-images-idx3-ubyte`), fashionMnistFile(dir, `${prefix}-labels-idx1-ubyte`), { padTo32 });
    ds.name = spec;
    ds.classNames = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
    return limitImages(ds, limit);
  }
  if (spec.startsWith('idx:')) {
    const [images, labels, ...rest] = spec.slice(4).split(',');
    if (!images || rest.length > 0) throw new LdmError('INVALID_ARGUMENT', `dataset '${spec}': expected idx:<images>[,<labels>]`);
    return limitImages(loadIdx(images, labels || undefined, { padTo32 }), limit);
  }
  if (spec.startsWith('folder:')) {
    const dir = spec.slice(7);
    if (!dir) throw new LdmError('INVALID_ARGUMENT', `dataset '${spec}': expected folder:<dir>`);
    const { padTo32: _pad, limit: _limit, fashionMnistDir: _fm, ...folderOptions } = options;
    let ds = await loadImageFolder(dir, folderOptions);
    // Folders are sized with `size`; padding applies only when asked for explicitly.
    if (options.padTo32 === true) ds = padImagesTo32(ds, dir);
    return limitImages(ds, limit);
  }
  throw new LdmError('INVALID_ARGUMENT', `unknown dataset '${spec}': expected one of ${DATASET_SPECS.join(', ')}`);
}

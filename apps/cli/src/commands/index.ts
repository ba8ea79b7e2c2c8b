import { trainVaeCommand } from './train-vae';
import { trainCommand } from './train';
import { sampleCommand } from './sample';
import { nllCommand } from './nll';
import { infoCommand } from './info';
import { demoCommand } from './demo';
import { compareCommand } from './compare';
import { serveCommand } from './serve';

export const commands = [trainVaeCommand, trainCommand, sampleCommand, nllCommand, infoCommand, compareCommand, demoCommand, serveCommand];

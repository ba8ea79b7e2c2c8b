import { trainVaeCommand } from './train-vae';
import { trainCommand } from './train';
import { sampleCommand } from './sample';
import { nllCommand } from './nll';
import { infoCommand } from './info';
import { demoCommand } from './demo';
import { compareCommand } from './compare';
import { serveCommand } from './serve';
import { toy2dCommand } from './toy2d';

export const commands = [trainVaeCommand, trainCommand, sampleCommand, nllCommand, infoCommand, compareCommand, toy2dCommand, demoCommand, serveCommand];

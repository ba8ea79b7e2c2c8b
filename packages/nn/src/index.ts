export { Module, ModuleList } from './module';

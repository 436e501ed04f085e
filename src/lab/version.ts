/** The sluice version the lab writes into its reports (a test keeps it equal to package.json's). */
export const VERSION: string = '0.1.0';

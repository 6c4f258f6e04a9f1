"""Networks and their files: DiffAE, mappers, the latent classifier, IR-SE50, the face parser and texture painter."""

"""Photos in: reading and checking image files, face alignment and paste-back, landmark part maps, image metrics."""

"""Makes the staging benchmark's project with the real Blender: shot.blend in DIR, with one
image data-block for every file under DIR/textures (as a texture-heavy shot has).

    blender -b --factory-startup --python tools/bench/make_stage_project.py -- DIR
"""
import os
import sys

import bpy

project = os.path.abspath(sys.argv[sys.argv.index("--") + 1])
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.context.preferences.filepaths.save_version = 0
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(project, "shot.blend"))
for folder, _, names in sorted(os.walk(os.path.join(project, "textures"))):
    for name in sorted(names):
        image = bpy.data.images.new(name, 4, 4)
        image.filepath_raw = "//" + os.path.relpath(os.path.join(folder, name), project)
        image.source = "FILE"
        image.use_fake_user = True
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(project, "shot.blend"))
print("made", project)
